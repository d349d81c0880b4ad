package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gusthub/gust/api/console"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		path, contentType, contains string
		status                      int
	}{
		{"/console/", "text/html; charset=utf-8", `<script type="module" src="app.js">`, http.StatusOK},
		{"/console/app.js", "text/javascript; charset=utf-8", "textContent", http.StatusOK},
		{"/console/style.css", "text/css; charset=utf-8", "--accent", http.StatusOK},
		{"/console/nope.js", "text/plain; charset=utf-8", "404 page not found", http.StatusNotFound},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := srv.Client().Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || res.Header.Get("Content-Type") != tc.contentType || !strings.Contains(string(b), tc.contains) {
				t.Errorf("%d %s, body has %q: %t", res.StatusCode, res.Header.Get("Content-Type"), tc.contains, strings.Contains(string(b), tc.contains))
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
		})
	}
}

// TestNoMarkupFromData keeps the script honest: it never parses strings
// as HTML.
func TestNoMarkupFromData(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/console/app.js")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(b), sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
}
