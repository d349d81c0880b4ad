package actions

import (
	"context"
	"errors"
	"sync"
)

// Pending is a record handed to the store (ActivationStore.PutAsync) and
// not yet known to be stored. Answer tells the outcome of its first write
// without writing it again; Wait writes it again when that failed. A
// committer that acknowledges many activations in turn so learns at once
// which records are stored, and leaves the few to write again to
// goroutines of their own instead of holding the others behind them.
type Pending struct {
	mu    sync.Mutex
	err   error                       // the first write's outcome, once first is nil
	first func(context.Context) error // waits for the first write's outcome; nil once it came
	again func(context.Context) error // writes the record again; nil: nothing more to try
}

// errWrittenOnWait is the answer of a record whose first write is Wait's:
// one too large for a stream message, which goes to the object store.
var errWrittenOnWait = errors.New("activation record not written yet: it is written when waited for")

// NewPending is a record whose first write answered err; Wait calls again
// (when err is not nil), which writes it again, or is nil when there is
// nothing more to try.
func NewPending(err error, again func(context.Context) error) *Pending {
	return &Pending{err: err, again: again}
}

// Settled is a record whose storing ended with err, nil when stored.
func Settled(err error) *Pending { return NewPending(err, nil) }

// Answer waits for the outcome of the record's first write: nil when it
// is stored, else why not yet. It does not write again, and returns
// without waiting once the write's acknowledgement is overdue (putAckWait
// after it was sent). When ctx ends first it returns ctx's error, and a
// later call waits again.
func (p *Pending) Answer(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first != nil {
		err := p.first(ctx)
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		p.err, p.first = err, nil
	}
	return p.err
}

// WritesAgain reports whether Wait writes the record again after a failed
// first write: false for one whose storing ended for good (Settled), which
// trying again cannot change.
func (p *Pending) WritesAgain() bool { return p.again != nil }

// Wait waits until the record is stored, writing it again (PutEncoded,
// with its retries) when the first write failed or was not acknowledged
// in time, and returns what PutEncoded would.
func (p *Pending) Wait(ctx context.Context) error {
	err := p.Answer(ctx)
	if err == nil || p.again == nil || ctx.Err() != nil {
		return err
	}
	return p.again(ctx)
}
