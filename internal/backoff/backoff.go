package backoff

import (
	"context"
	"time"
)

// Backoff yields the pauses between attempts. The zero value with Min and
// Max set is ready to use; it is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	next     time.Duration // 0: Min
}

// Next returns the pause before the next attempt: Min the first time, then
// twice the previous one, at most Max.
func (b *Backoff) Next() time.Duration {
	if b.next == 0 {
		b.next = b.Min
	}
	d := b.next
	b.next = min(2*b.next, b.Max)
	return d
}

// Reset makes the next pause Min again, after an attempt that went well.
func (b *Backoff) Reset() { b.next = 0 }

// Wait pauses for d; false when ctx ends first.
func Wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
