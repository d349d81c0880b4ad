package github_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/internal/feedrun"
)

// newManager is a feed manager on a real hub with the registered
// providers, and trigger guest/T created.
func newManager(t *testing.T) (*feeds.Manager, actions.Name) {
	t.Helper()
	ctx := context.Background()
	h := hubtest.StartWith(t, hub.Options{Listen: "127.0.0.1:0"})
	js := h.JetStream()
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		t.Fatal(err)
	}
	tr := feedrun.PutTrigger(t, h, "T")
	m, err := feeds.Open(ctx, feeds.Options{JetStream: js, Events: hub.NewPublisher(js), Triggers: feedrun.Triggers(t, h),
		BaseURL: "https://gust.example.com", Egress: egress.MustParse(egress.Loopback)})
	if err != nil {
		t.Fatal(err)
	}
	return m, tr
}

// lifecycle runs one feed action invocation of github/webhook.
func lifecycle(m *feeds.Manager, event string, tr actions.Name, p feeds.Params) (map[string]any, error) {
	return m.Lifecycle(context.Background(), feeds.Request{Event: event, Feed: "github/webhook", Trigger: tr, Params: p})
}

// TestUpdateEditsHook: the feed lifecycle's UPDATE of a trigger whose
// feed created a hook edits that hook on GitHub (events, secret, URL) and
// keeps its id; moving the feed to another repository creates a hook there
// and deletes the old one; a hook deleted on GitHub meanwhile is created
// again; GitHub's refusal fails the UPDATE and keeps the stored feed.
func TestUpdateEditsHook(t *testing.T) {
	g := newFakeGitHub(t)
	m, tr := newManager(t)
	if _, err := lifecycle(m, feeds.Create, tr, params("accessToken", "ghp_test-token", "baseUrl", g.srv.URL, "events", "push")); err != nil {
		t.Fatal(err)
	}
	got, err := lifecycle(m, feeds.Update, tr, feeds.Params{"events": json.RawMessage(`"push,issues"`), "secret": json.RawMessage(`"a-new-secret"`)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"path": "/repos/Codertocat/Hello-World/hooks/1001", "active": true, "events": []any{"push", "issues"},
		"config": map[string]any{"url": "https://gust.example.com/api/v1/feeds/guest/T", "content_type": "json", "secret": "a-new-secret", "insecure_ssl": "0"}}
	if len(g.edited) != 1 || mustJSON(g.edited[0]) != mustJSON(want) {
		t.Errorf("GitHub got edits %v,\nwant %v", g.edited, want)
	}
	config := got["config"].(map[string]any)
	if config["hookId"] != float64(1001) || config["events"] != "push,issues" {
		t.Errorf("UPDATE answered config %v", config)
	}
	if len(g.created) != 1 || len(g.deleted) != 0 {
		t.Errorf("an edit created %d hooks and deleted %v", len(g.created)-1, g.deleted)
	}

	// Another repository: a hook there, the old one removed.
	if _, err := lifecycle(m, feeds.Update, tr, feeds.Params{"repository": json.RawMessage(`"Codertocat/Other"`)}); err != nil {
		t.Fatal(err)
	}
	if len(g.created) != 2 || g.created[1]["path"] != "/repos/Codertocat/Other/hooks" || mustJSON(g.created[1]["events"]) != `["push","issues"]` {
		t.Errorf("GitHub got creations %v", g.created)
	}
	if len(g.deleted) != 1 || g.deleted[0] != "/repos/Codertocat/Hello-World/hooks/1001" {
		t.Errorf("GitHub got deletions %v", g.deleted)
	}
	got, _ = lifecycle(m, feeds.Read, tr, nil)
	if id := got["config"].(map[string]any)["hookId"]; id != float64(1002) {
		t.Errorf("hookId after the move: %v", id)
	}

	// A hook someone deleted on GitHub.
	g.mu.Lock()
	g.gone = map[string]bool{"1002": true}
	g.mu.Unlock()
	if _, err := lifecycle(m, feeds.Update, tr, feeds.Params{"events": json.RawMessage(`"push"`)}); err != nil {
		t.Fatal(err)
	}
	got, _ = lifecycle(m, feeds.Read, tr, nil)
	if id := got["config"].(map[string]any)["hookId"]; len(g.created) != 3 || id != float64(1003) {
		t.Errorf("a vanished hook was not created again: %d creations, hookId %v", len(g.created), id)
	}

	// GitHub refuses (a bad token): the UPDATE fails, the feed is as it was.
	g.mu.Lock()
	g.failWith = http.StatusUnauthorized
	g.mu.Unlock()
	_, err = lifecycle(m, feeds.Update, tr, feeds.Params{"repository": json.RawMessage(`"Codertocat/Third"`), "accessToken": json.RawMessage(`"ghp_bad"`)})
	var re *feeds.RequestError
	if !errors.As(err, &re) || re.Status != http.StatusBadRequest {
		t.Errorf("a refused UPDATE: %v", err)
	}
	got, _ = lifecycle(m, feeds.Read, tr, nil)
	if config := got["config"].(map[string]any); config["repository"] != "Codertocat/Other" || config["hookId"] != float64(1003) {
		t.Errorf("a refused UPDATE changed the feed: %v", config)
	}
}

// TestUpdateWithoutTokenCallsNobody: a feed without an access token has
// no hook of Gust's to change.
func TestUpdateWithoutTokenCallsNobody(t *testing.T) {
	g := newFakeGitHub(t)
	m, tr := newManager(t)
	if _, err := lifecycle(m, feeds.Create, tr, params("baseUrl", g.srv.URL)); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle(m, feeds.Update, tr, feeds.Params{"events": json.RawMessage(`"issues"`)}); err != nil {
		t.Fatal(err)
	}
	if len(g.auth) != 0 {
		t.Errorf("GitHub was called %d times", len(g.auth))
	}
}
