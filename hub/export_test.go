package hub

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SeeNoEventSince makes EventRetention's search for a namespace's first
// event within its retention find none, as a store still recovering from
// a crash may, until the returned function restores it.
func SeeNoEventSince() (restore func()) {
	saved := firstSince
	firstSince = func(context.Context, jetstream.Stream, string, time.Time) (uint64, bool, error) { return 0, false, nil }
	return func() { firstSince = saved }
}
