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
