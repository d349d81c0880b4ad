package api

import (
	"context"
	"fmt"
	"net/http"
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
