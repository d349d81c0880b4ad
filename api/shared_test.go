package api_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
)

// TestProcessesShareState runs a second API on its own connection to the
// first one's NATS (as a second gust serve --nats=... would) and checks
// that each sees what the other writes.
func TestProcessesShareState(t *testing.T) {
	ctx := context.Background()
	first, err := hub.Start(ctx, hub.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Close() })
	if first.ClientURL() == "" {
		t.Fatal("the embedded NATS has no client URL")
	}
	second, err := hub.Start(ctx, hub.Options{URL: first.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Close() })

	serve := func(h *hub.Hub) *env {
		st := openStores(t, h.JetStream())
		srv := httptest.NewServer(api.New(api.Config{Actions: st.actions, Rules: st.rules, Activations: st.activations, Identities: st.ids}))
		t.Cleanup(srv.Close)
		return &env{t: t, srv: srv}
	}
	a, b := serve(first), serve(second)

	a.must("PUT", "/api/v1/namespaces/_/actions/shared?overwrite=false", bodyHello)
	if r := b.guest("GET", "/api/v1/namespaces/_/actions/shared", ""); r.status != 200 || !strings.Contains(string(r.body), `"name":"shared"`) {
		t.Fatalf("the second process does not see the action: %d %s", r.status, r.body)
	}
	b.must("PUT", "/api/v1/namespaces/_/triggers/t?overwrite=false", bodyTrigger)
	b.must("PUT", "/api/v1/namespaces/_/rules/r?overwrite=false", `{"trigger":"/_/t","action":"/_/shared"}`)
	if r := a.guest("GET", "/api/v1/namespaces/_/rules/r", ""); r.status != 200 || !strings.Contains(string(r.body), `"status":"active"`) {
		t.Fatalf("the first process does not see the rule: %d %s", r.status, r.body)
	}
	if r := a.guest("PUT", "/api/v1/namespaces/_/actions/shared?overwrite=false", bodyHello); r.status != 409 {
		t.Fatalf("create of an action the other process made: %d, want 409", r.status)
	}
}

// TestIdentityCacheFollowsAdd: a key registered again for another
// namespace takes effect at once in the process that registered it, and a
// wrong secret is refused even while the identity is remembered.
func TestIdentityCacheFollowsAdd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const auth = "5e1f0c2a-1111-4222-8333-944455556666:SecretOne0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR"
	id, secret, _ := strings.Cut(auth, ":")
	if err := e.ids.Add(ctx, "first", auth, false); err != nil {
		t.Fatal(err)
	}
	if got, err := e.ids.Authenticate(ctx, id, secret); err != nil || got.Namespace != "first" {
		t.Fatalf("Authenticate: %v %v", got, err)
	}
	if _, err := e.ids.Authenticate(ctx, id, secret+"x"); !errors.Is(err, api.ErrBadCredentials) {
		t.Errorf("a wrong secret of a remembered identity: %v", err)
	}
	if err := e.ids.Add(ctx, "second", auth, false); err != nil {
		t.Fatal(err)
	}
	if got, err := e.ids.Authenticate(ctx, id, secret); err != nil || got.Namespace != "second" {
		t.Errorf("after the key moved: %v %v", got, err)
	}
}
