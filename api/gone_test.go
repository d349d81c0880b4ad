package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/internal/syncbuf"
)

// TestClientGoneNotAnError checks that a request whose client went away
// (its context canceled, as when `gust action invoke` stops asking
// /runtimes/building once its answer came) is not logged as a failed
// request: a newcomer's first invoke printed an ERROR line "request
// failed ... context canceled" in gust serve's log.
func TestClientGoneNotAnError(t *testing.T) {
	var logs syncbuf.Buffer
	e := newEnv(t, func(cfg *api.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/api/v1/namespaces/_/activations?limit=5", nil).WithContext(ctx)
	r := e.serve(req)
	if r.status < 400 {
		t.Fatalf("a canceled request answered %d: %s", r.status, r.body)
	}
	if r.status == http.StatusInternalServerError || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a request its client canceled was answered %d and logged as an error:\n%s", r.status, logs.String())
	}
}
