package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Batch is a group commit of JetStream writes: Publish hands each message
// to the connection's asynchronous publisher and returns at once, and Wait
// waits for all of their acknowledgements together. A write awaited alone
// costs a round trip and two thread wake-ups; writes confirmed as a batch
// share them, as a database's group commit or a Kafka producer's batch
// does. Each write's outcome is its own (Write.Err): the caller
// acknowledges what it consumed only once the writes that it owes are
// confirmed, so a crash loses nothing that was acknowledged.
//
// A Batch is used by one goroutine; it may be reused after Wait (Reset).
type Batch struct {
	js     jetstream.JetStream
	writes []*Write
	waited int // writes[:waited] have their outcome
}

// Write is one message of a Batch. Its outcome (Err, Ack) is known once
// the batch's Wait has returned.
type Write struct {
	msg  *nats.Msg
	opts []jetstream.PublishOpt
	f    jetstream.PubAckFuture // nil: deferred to Wait, or failed
	ack  *jetstream.PubAck
	err  error
}

// NewBatch returns an empty batch of writes to js.
func NewBatch(js jetstream.JetStream) *Batch { return &Batch{js: js} }

// Publish starts storing m, with opts as for jetstream's PublishMsg, and
// returns its write, whose outcome Wait gives. When the asynchronous
// publisher has too many acknowledgements outstanding, m is published by
// Wait instead, after the others.
func (b *Batch) Publish(m *nats.Msg, opts ...jetstream.PublishOpt) *Write {
	w := &Write{msg: m, opts: opts}
	b.writes = append(b.writes, w)
	f, err := b.js.PublishMsgAsync(m, opts...)
	switch {
	case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
		// deferred: Wait publishes it once the others are confirmed
	case err != nil:
		w.err = err
	default:
		w.f = f
	}
	return w
}

// Len is the number of writes published since the batch was made or
// reset.
func (b *Batch) Len() int { return len(b.writes) }

// Wait waits until every write published so far is acknowledged or has
// failed, up to ctx's deadline or, without one, publishAckWait; a write
// not acknowledged by then fails with nats.ErrTimeout (it may still be
// stored: writes that matter carry a message id or an expected sequence,
// so writing them again is safe). It returns nil when every write is
// stored, else an error that counts the failures and wraps the first;
// each write's own error is its Err.
func (b *Batch) Wait(ctx context.Context) error {
	var timeout <-chan struct{}
	if _, ok := ctx.Deadline(); !ok && b.waited < len(b.writes) {
		var stop func() bool
		timeout, stop = expiry(publishAckWait)
		defer stop()
	}
	var deferred []*Write
	for _, w := range b.writes[b.waited:] {
		switch {
		case w.err != nil:
		case w.f == nil:
			deferred = append(deferred, w)
		default:
			w.ack, w.err = awaitAck(ctx, w.f, timeout, publishAckWait)
		}
	}
	for _, w := range deferred { // the publisher has room again, mostly
		w.ack, w.err = Publish(ctx, b.js, w.msg, w.opts...)
	}
	b.waited = len(b.writes)
	return b.Err()
}

// expiry returns a channel that is closed once d has passed, and a func
// that stops it. Closed, not sent on, as a timer's channel is: the writes
// of a batch share it, and each of them must see that the time is up, or
// all but the first would wait for good for an acknowledgement that never
// comes (JetStream restarted with them in flight).
func expiry(d time.Duration) (<-chan struct{}, func() bool) {
	c := make(chan struct{})
	t := time.AfterFunc(d, func() { close(c) })
	return c, t.Stop
}

// awaitAck is the acknowledgement of f, or why there is none: ctx ended,
// or timeout, expiry's channel for d (nil: none), closed first.
func awaitAck(ctx context.Context, f jetstream.PubAckFuture, timeout <-chan struct{}, d time.Duration) (*jetstream.PubAck, error) {
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	default: // not yet: wait, without giving up on a timeout that fired already
	}
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	case <-timeout:
		return nil, fmt.Errorf("%w: no acknowledgement within %v", nats.ErrTimeout, d)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Err is nil when every write waited for is stored, else an error that
// counts the failures and wraps the first.
func (b *Batch) Err() error {
	var first error
	failed := 0
	for _, w := range b.writes[:b.waited] {
		if w.err != nil {
			if first == nil {
				first = w.err
			}
			failed++
		}
	}
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d writes failed, the first: %w", failed, b.waited, first)
}

// Reset empties the batch for new writes; the writes it held keep their
// outcomes.
func (b *Batch) Reset() {
	clear(b.writes)
	b.writes, b.waited = b.writes[:0], 0
}

// Err is nil once the write is stored, else why it is not: JetStream's
// refusal (such as IsWrongLastSequence), a timeout, or the context's end.
// Before its batch's Wait it is nil unless the write failed at once.
func (w *Write) Err() error { return w.err }

// Ack is JetStream's acknowledgement of the stored write (nil if it
// failed or its batch was not waited for): its stream, sequence, and
// whether it was a duplicate of a message id stored before.
func (w *Write) Ack() *jetstream.PubAck { return w.ack }
