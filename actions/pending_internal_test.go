package actions

import (
	"context"
	"errors"
	"testing"
)

// TestPendingAnswerCutShortKeepsTheAnswer: an Answer whose context ends
// first returns the context's error and leaves the write's outcome to the
// next call, which then keeps it: the first write is waited for, never
// made again by Answer.
func TestPendingAnswerCutShortKeepsTheAnswer(t *testing.T) {
	outcome := make(chan error, 1)
	waits := 0
	p := &Pending{first: func(ctx context.Context) error {
		waits++
		select {
		case err := <-outcome:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Answer(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Answer with an ended context = %v, want context.Canceled", err)
	}
	refused := errors.New("refused")
	outcome <- refused
	for i := range 2 {
		if err := p.Answer(context.Background()); !errors.Is(err, refused) {
			t.Fatalf("Answer %d = %v, want the write's error", i+1, err)
		}
	}
	if waits != 2 {
		t.Errorf("the first write was waited for %d times, want 2 (cut short, then its outcome kept)", waits)
	}
}

// TestPendingWaitWritesAgainOnlyWhenNeeded: Wait returns a stored record's
// nil without writing it again, and writes again a record whose first
// write failed, returning what that write returns.
func TestPendingWaitWritesAgainOnlyWhenNeeded(t *testing.T) {
	ctx := context.Background()
	again := 0
	write := func(err error) func(context.Context) error {
		return func(context.Context) error { again++; return err }
	}
	if err := NewPending(nil, write(errors.New("not this"))).Wait(ctx); err != nil || again != 0 {
		t.Fatalf("a stored record: Wait = %v after %d writes, want nil after none", err, again)
	}
	if err := NewPending(errNoAck, write(nil)).Wait(ctx); err != nil || again != 1 {
		t.Fatalf("a record not acknowledged: Wait = %v after %d writes, want nil after one", err, again)
	}
	lost := errors.New("lost")
	if err := NewPending(errNoAck, write(lost)).Wait(ctx); !errors.Is(err, lost) {
		t.Fatalf("a record written again in vain: Wait = %v, want its write's error", err)
	}
	if err := Settled(lost).Wait(ctx); !errors.Is(err, lost) {
		t.Fatalf("Settled(err).Wait = %v, want err", err)
	}
}
