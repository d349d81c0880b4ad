package backoff

import (
	"context"
	"time"
)

// Backoff yields the pauses between attempts. The zero value with Min and
// Max set is ready to use; it is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	// Factor is how much each pause grows over the previous one; 0 means
	// 2 (doubling). Polls for something about to happen grow slower.
	Factor float64
	next   time.Duration // 0: Min
}

// Next returns the pause before the next attempt: Min the first time, then
// the previous one times Factor, at most Max.
func (b *Backoff) Next() time.Duration {
	if b.next == 0 {
		b.next = b.Min
	}
	d := b.next
	if b.Factor == 0 {
		b.next = min(2*b.next, b.Max)
	} else {
		b.next = min(time.Duration(float64(b.next)*b.Factor), b.Max)
	}
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
