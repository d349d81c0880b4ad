package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/dispatch"
)

// TestPool checks GET .../pool and GET /api/v1/runtimes/building without
// an invoker and their refusals; the browser test (cmd) sees a running
// invoker's containers through them, and an e2e test (cmd) the images
// being built.
func TestPool(t *testing.T) {
	e := startEnvWith(t, t.TempDir(), func(e *env, cfg *api.Config) { cfg.Pool = dispatch.NewPoolView(e.hub.Conn()) })
	for _, tc := range []struct {
		name, path, auth string
		status           int
	}{
		{"no invoker answers", "/api/v1/namespaces/_/pool", guestAuth, http.StatusServiceUnavailable},
		{"another namespace", "/api/v1/namespaces/other/pool", guestAuth, http.StatusNotFound},
		{"no key", "/api/v1/namespaces/_/pool", "", http.StatusUnauthorized},
		{"builds: no invoker answers", "/api/v1/runtimes/building", guestAuth, http.StatusServiceUnavailable},
		{"builds: no key", "/api/v1/runtimes/building", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.do("GET", tc.path, tc.auth, ""); r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
	without := newEnv(t)
	for _, path := range []string{"/api/v1/namespaces/_/pool", "/api/v1/runtimes/building"} {
		if r := without.do("GET", path, guestAuth, ""); r.status != http.StatusServiceUnavailable {
			t.Errorf("%s without a pool: status %d: %s", path, r.status, r.body)
		}
	}
}

// TestConsoleServed checks that the API serves the web console.
func TestConsoleServed(t *testing.T) {
	e := newEnv(t)
	res, err := noRedirect.Get(e.srv.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/console/" {
		t.Errorf("GET /console: %d to %q, want 301 to /console/", res.StatusCode, res.Header.Get("Location"))
	}
	if r := e.do("GET", "/console/", "", ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "<title>Gust console</title>") {
		t.Errorf("GET /console/: %d %.100s", r.status, r.body)
	}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
