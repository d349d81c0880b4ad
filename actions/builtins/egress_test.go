package builtins

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/invoker"
)

// TestEgressRefused: slack/post and github/comment refuse URLs that lead
// to loopback, link-local (cloud metadata) or private addresses unless
// the operator allowed them, before connecting (what names resolve to is
// checked when connecting: egress's TestDialTime). The fake upstream, on
// loopback, is reached only once loopback is allowed.
func TestEgressRefused(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C1","ts":"1.2","id":1}`))
	}))
	defer up.Close()
	port := up.URL[strings.LastIndex(up.URL, ":"):]
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  invoker.BuiltinFunc
		kv   []any
		want string // in the error
	}{
		{"slack apiUrl metadata", slackPost, []any{"botToken", "xoxb-1", "channel", "C1", "text", "x", "apiUrl", "http://169.254.169.254/latest/"}, "link-local"},
		{"slack apiUrl loopback", slackPost, []any{"botToken", "xoxb-1", "channel", "C1", "text", "x", "apiUrl", up.URL + "/api/"}, "loopback"},
		{"slack webhook private", slackPost, []any{"text", "x", "url", "https://10.1.2.3/hooks/T/B/X"}, "private"},
		{"slack webhook localhost", slackPost, []any{"text", "x", "url", "http://localhost" + port + "/hook"}, "loopback"},
		{"slack webhook IPv6 loopback", slackPost, []any{"text", "x", "url", "http://[::1]" + port + "/hook"}, "loopback"},
		{"github baseUrl loopback", githubComment, []any{"repository", "o/r", "number", 1, "body", "b", "accessToken", "t", "baseUrl", up.URL}, "loopback"},
		{"github baseUrl metadata", githubComment, []any{"repository", "o/r", "number", 1, "body", "b", "accessToken", "t", "baseUrl", "http://169.254.169.254/"}, "link-local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.run(ctx, call("guest", tc.kv...))
			if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a refusal naming %s", err, tc.want)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback upstream was reached %d times", n)
	}
	// Allowed explicitly, the same calls get through.
	c := call("guest", "botToken", "xoxb-1", "channel", "C1", "text", "x", "apiUrl", up.URL+"/api/")
	c.Egress = egress.MustParse(egress.Loopback)
	if _, err := slackPost(ctx, c); err != nil {
		t.Fatal(err)
	}
	c = call("guest", "repository", "o/r", "number", 1, "body", "b", "accessToken", "t", "baseUrl", up.URL)
	c.Egress = egress.MustParse(egress.Loopback)
	if _, err := githubComment(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("allowed calls reached the upstream %d times, want 2", n)
	}
}
