package api_test

import (
	"net/http"
	"testing"
)

func TestWrongMethod(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"PATCH", "/api/v1/namespaces/_/actions/hello", http.StatusMethodNotAllowed, "GET, PUT, POST, DELETE"},
		{"POST", "/api/v1/namespaces/_/packages/p", http.StatusMethodNotAllowed, "GET, PUT, DELETE"},
		{"DELETE", "/api/v1/namespaces/_/activations", http.StatusMethodNotAllowed, "GET"},
		{"GET", "/api/v1/nothing/here", http.StatusNotFound, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.guest(tc.method, tc.path, "")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			checkErrorBody(t, r, "")
		})
	}
}

// TestEveryRouteMethod tries every method on every route: none redirects,
// and each 405 names the methods the path takes.
func TestEveryRouteMethod(t *testing.T) {
	e := newEnv(t)
	paths := []string{"/api/v1", "/api/v1/namespaces", "/api/v1/namespaces/_", "/api/v1/namespaces/_/limits"}
	for _, c := range []string{"actions", "packages", "triggers", "rules", "activations"} {
		paths = append(paths, "/api/v1/namespaces/_/"+c, "/api/v1/namespaces/_/"+c+"/x")
	}
	paths = append(paths, "/api/v1/namespaces/_/activations/0123456789abcdef0123456789abcdef/logs")
	for _, p := range paths {
		for _, m := range []string{"GET", "PUT", "POST", "DELETE", "PATCH"} {
			r := e.guest(m, p, "")
			if r.status >= 300 && r.status < 400 {
				t.Errorf("%s %s: %d, want no redirect", m, p, r.status)
			}
			if r.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Errorf("%s %s: 405 without Allow", m, p)
			}
		}
	}
	for _, tc := range []struct{ method, path, allow string }{
		{"POST", "/api/v1/namespaces/_/actions", "GET"},
		{"PUT", "/api/v1/namespaces/_/triggers", "GET"},
		{"DELETE", "/api/v1/namespaces/_/rules", "GET"},
	} {
		r := e.guest(tc.method, tc.path, "")
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.allow)
		}
	}
}
