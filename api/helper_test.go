package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
	"github.com/nats-io/nats.go/jetstream"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// guestAuth is the Authorization header the wsk CLI sends with the
// well-known guest key (wsk-wire.md).
const guestAuth = "Basic MjNiYzQ2YjEtNzFmNi00ZWQ1LThjNTQtODE2YWE0ZjhjNTAyOjEyM3pPM3haQ0xyTU42djJCS0sxZFhZRnBYbFBrY2NPRnFtMTJDZEFzTWdSVTRWck5aOWx5R1ZDR3VNREdJd1A="

// clockBase is the test clock's start: every call to the clock advances it
// by a millisecond, so that "newest first" orders are deterministic.
var clockBase = time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)

// env is a real Gust API on an embedded hub, reached over HTTP.
type env struct {
	t           testing.TB
	dir         string
	hub         *hub.Hub
	srv         *httptest.Server
	handler     http.Handler
	activations *actions.ActivationStore
	ids         *api.Identities
	// otherAuth is an Authorization header for namespace "other".
	otherAuth string
}

// newEnv starts an API on a fresh data directory; opts adjust its
// configuration (for example to give it an event publisher).
func newEnv(t testing.TB, opts ...func(*api.Config)) *env { return startEnv(t, t.TempDir(), opts...) }

// startEnv starts an API on the data directory dir, wired as gust serve
// wires it; it is closed when the test ends.
func startEnv(t testing.TB, dir string, opts ...func(*api.Config)) *env {
	t.Helper()
	return startEnvWith(t, dir, func(_ *env, cfg *api.Config) {
		for _, o := range opts {
			o(cfg)
		}
	})
}

// stores are what an API serves from, opened on one hub.
type stores struct {
	actions     *actions.Store
	activations *actions.ActivationStore
	rules       *rules.Store
	ids         *api.Identities
}

// openStores opens the stores on js, with guest's key (api.DevGuestKey).
func openStores(t testing.TB, js jetstream.JetStream) stores {
	t.Helper()
	ctx := context.Background()
	var st stores
	var err error
	if st.actions, err = actions.OpenStore(ctx, js); err != nil {
		t.Fatal(err)
	}
	if st.activations, err = actions.OpenActivationStore(ctx, js, actions.ActivationRetention{}); err != nil {
		t.Fatal(err)
	}
	if st.rules, err = rules.OpenStore(ctx, js); err != nil {
		t.Fatal(err)
	}
	if st.ids, err = api.OpenIdentities(ctx, js); err != nil {
		t.Fatal(err)
	}
	if err := st.ids.Add(ctx, "guest", api.DevGuestKey, false); err != nil {
		t.Fatal(err)
	}
	return st
}

// startEnvWith is startEnv with a configuration step that sees the env
// (its hub), for parts built on the hub such as the feed manager.
func startEnvWith(t testing.TB, dir string, configure func(*env, *api.Config)) *env {
	t.Helper()
	ctx := context.Background()
	h, err := hub.Start(ctx, hub.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("start hub: %v", err)
	}
	e := &env{t: t, dir: dir, hub: h}
	t.Cleanup(e.close)
	st := openStores(t, h.JetStream())
	store, ruleStore := st.actions, st.rules
	e.activations, e.ids = st.activations, st.ids
	const otherKey = "0b4b3c1a-7d43-4b9e-9f0e-2f3c6f1d9a11:" +
		"OtherNamespaceKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"
	if err := e.ids.Add(ctx, "other", otherKey, false); err != nil {
		t.Fatal(err)
	}
	e.otherAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(otherKey))
	var tick atomic.Int64
	cfg := api.Config{
		Actions: store, Rules: ruleStore, Activations: e.activations, Identities: e.ids,
		Build: "test",
		Now:   func() time.Time { return clockBase.Add(time.Duration(tick.Add(1)) * time.Millisecond) },
	}
	configure(e, &cfg)
	srv := api.New(cfg)
	e.handler = srv
	e.srv = httptest.NewServer(srv)
	return e
}

// close stops the HTTP server and the hub; it may be called more than once.
func (e *env) close() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
	if e.hub != nil {
		if err := e.hub.Close(); err != nil {
			e.t.Errorf("close hub: %v", err)
		}
		e.hub = nil
	}
}

// response is an answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as wsk does: path (with query) under the server, the
// Authorization header auth (none when empty), and body as JSON (none when
// empty).
func (e *env) do(method, path, auth, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "OpenWhisk-CLI/1.0 (2026-11-24T14:30:49.000+0000) linux amd64")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// serve hands req to the handler directly, as guest unless req has an
// Authorization header; it is for bodies too large to stream in a test.
func (e *env) serve(req *http.Request) response {
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", guestAuth)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// guest sends a request as namespace guest with the CLI's header.
func (e *env) guest(method, path, body string) response {
	e.t.Helper()
	return e.do(method, path, guestAuth, body)
}

// must sends a request as guest and fails the test unless it answers 200.
func (e *env) must(method, path, body string) response {
	e.t.Helper()
	r := e.guest(method, path, body)
	if r.status != http.StatusOK {
		e.t.Fatalf("%s %s: status %d, body %s", method, path, r.status, r.body)
	}
	return r
}

// object decodes the body as a JSON object.
func (r response) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// list decodes the body as a JSON array of objects.
func (r response) list(t testing.TB) []map[string]any {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("body is not a JSON array of objects: %v: %s", err, r.body)
	}
	return l
}

var transactionIDRule = regexp.MustCompile(`^[0-9a-f]{32}$`)

// wantError checks that r is an OpenWhisk error: status, exactly the
// fields error and code, code a transaction id, and the message msg (any
// message when msg is empty).
func wantError(t testing.TB, r response, status int, msg string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	checkErrorBody(t, r, msg)
}

func checkErrorBody(t testing.TB, r response, msg string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("error body is not a JSON object: %v: %q", err, r.body)
	}
	errMsg, ok1 := m["error"].(string)
	code, ok2 := m["code"].(string)
	if !ok1 || !ok2 || len(m) != 2 {
		t.Fatalf("error body %s, want exactly string fields error and code", r.body)
	}
	if !transactionIDRule.MatchString(code) {
		t.Errorf("error code %q is not a transaction id", code)
	}
	if msg != "" && errMsg != msg {
		t.Errorf("error %q, want %q", errMsg, msg)
	}
}

// golden compares body, with volatile fields masked, to
// testdata/name.json, or rewrites that file with -update.
func golden(t testing.TB, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: body is not JSON: %v: %s", name, err, body)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(mask(v, "")); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./api -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n got: %s\nwant: %s", name, path, got, want)
	}
}

// mask replaces the values that change from run to run: "updated" times and
// transaction ids in "code".
func mask(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = mask(val, k)
		}
		return x
	case []any:
		for i := range x {
			x[i] = mask(x[i], "")
		}
		return x
	case float64:
		if key == "updated" {
			return "<updated>"
		}
	case string:
		if key == "code" && transactionIDRule.MatchString(x) {
			return "<transaction id>"
		}
	}
	return v
}
