package gustcmd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/throttle"
	"github.com/gusthub/gust/rules"
)

// testServer is a real Gust API, wired as gust serve wires it (without an
// invoker), on an embedded hub in a temporary directory.
type testServer struct {
	apiHost   string
	auth      string // namespace guest
	adminAuth string
	// configPath is a config file of the test's own (GUST_CONFIG), so that
	// no test reads the user's.
	configPath  string
	actions     *actions.Store
	rules       *rules.Store
	activations *actions.ActivationStore
	ids         *api.Identities
	hub         *hub.Hub
	srv         *httptest.Server
}

// startTestServer starts a real Gust API for the test and returns its URL
// and the key of namespace guest. It stops when the test ends.
func startTestServer(t testing.TB) (apiHost, auth string) {
	ts := newTestServer(t)
	return ts.apiHost, ts.auth
}

// newTestServer is startTestServer with access to the stores behind the API.
func newTestServer(t testing.TB) *testServer {
	t.Helper()
	return newTestServerWith(t, false, throttle.Limits{})
}

// newThrottledTestServer is newTestServer whose API enforces the
// namespaces' throttles (and lets the admin set them), defaults for those
// without their own.
func newThrottledTestServer(t testing.TB, defaults throttle.Limits) *testServer {
	t.Helper()
	return newTestServerWith(t, true, defaults)
}

func newTestServerWith(t testing.TB, throttled bool, defaults throttle.Limits) *testServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	h, err := hub.Start(ctx, hub.Options{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatalf("start hub: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close hub: %v", err)
		}
	})
	js := h.JetStream()
	st, err := openStores(ctx, js, defaults, &telemetryParts{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{auth: api.DevGuestKey, configPath: filepath.Join(dir, "cli-config"), hub: h,
		actions: st.actions, rules: st.rules, activations: st.activations, ids: st.ids}
	if err := ts.ids.Add(ctx, "guest", api.DevGuestKey, false); err != nil {
		t.Fatal(err)
	}
	if ts.adminAuth, err = ts.ids.Create(ctx, actions.SystemNamespace, true); err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		Actions: ts.actions, Rules: ts.rules, Activations: ts.activations, Identities: ts.ids, Build: "test", Routes: st.routes,
		Events: hub.NewPublisher(js), Outcomes: rules.NewOutcomes(h.Conn()),
	}
	if throttled {
		cfg.Throttle = st.throttles
	}
	srv := httptest.NewServer(api.New(cfg))
	t.Cleanup(srv.Close)
	ts.apiHost, ts.srv = srv.URL, srv
	return ts
}

// env is a getenv for the CLI that points at the server: GUST_APIHOST,
// GUST_AUTH and a config file of the test's own, then kv pairs on top ("" as
// a value unsets).
func (ts *testServer) env(kv ...string) func(string) string {
	m := map[string]string{envAPIHost: ts.apiHost, envAuth: ts.auth, "GUST_CONFIG": ts.configPath}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// cliResult is what one run of the CLI did.
type cliResult struct {
	stdout, stderr string
	err            error
	// code is the exit code main would use.
	code int
}

// gust runs the CLI with args (without "gust") and getenv.
func gust(t testing.TB, getenv func(string) string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"gust"}, args...), getenv, &stdout, &stderr)
	r := cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
	if err != nil {
		r.code = exitCode(err)
	}
	return r
}

// message is the error line main prints, without "error: ".
func (r cliResult) message() string {
	if r.err == nil {
		return ""
	}
	return r.err.Error()
}

// check compares the run with the expected output, error message and exit
// code.
func (r cliResult) check(t testing.TB, stdout, errMsg string, code int) {
	t.Helper()
	if r.stdout != stdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, stdout)
	}
	if got := r.message(); errMsg != "" && !strings.Contains(got, errMsg) || errMsg == "" && got != "" {
		t.Errorf("error = %q, want %q", got, errMsg)
	}
	if r.code != code {
		var ee *exitError
		t.Errorf("exit code = %d, want %d (exitError: %v)", r.code, code, errors.As(r.err, &ee))
	}
}
