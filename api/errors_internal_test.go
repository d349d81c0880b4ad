package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestStatusOfEventBusFaults: a request that lost its NATS server midway
// (the client reconnects to another) or found no quorum is a 503 the client
// may try again, never a 500; the message says whether something may have
// been stored.
func TestStatusOfEventBusFaults(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("queue invocation: %w", nats.ErrDisconnected), msgInterrupted},
		{fmt.Errorf("publish event to guest/t: %w", nats.ErrConnectionReconnecting), msgInterrupted},
		{fmt.Errorf("get guest.t: %w", nats.ErrNoResponders), msgUnavailable},
		{fmt.Errorf("get guest.t: %w", context.DeadlineExceeded), msgOverloaded},
		// A leader without quorum still holding a publish of the same id.
		{fmt.Errorf("queue invocation: %w", &jetstream.APIError{Code: 409, ErrorCode: 10158, Description: "duplicate message id is in process"}), msgUnconfirmed},
	} {
		if status, msg := statusOf(tc.err); status != http.StatusServiceUnavailable || msg != tc.want {
			t.Errorf("%v: %d %q, want 503 %q", tc.err, status, msg, tc.want)
		}
	}
}

// TestUnavailableReadsSayNothingOfStoring: without a quorum a write is told
// that nothing was stored; a read is told only that the bus cannot answer.
func TestUnavailableReadsSayNothingOfStoring(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	err := fmt.Errorf("get guest.t: %w", nats.ErrNoResponders)
	for method, want := range map[string]string{http.MethodGet: msgUnreadable, http.MethodPost: msgUnavailable, http.MethodPut: msgUnavailable} {
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest(method, "/api/v1/namespaces/_/triggers/t", nil), err)
		var body errorBody
		if e := json.Unmarshal(w.Body.Bytes(), &body); e != nil || w.Code != http.StatusServiceUnavailable || body.Error != want {
			t.Errorf("%s: %d %s, want 503 %q", method, w.Code, w.Body, want)
		}
	}
}
