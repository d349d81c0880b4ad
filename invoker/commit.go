package invoker

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// finished is an activation whose record was handed to the store (stored
// tells when it has it) and whose invocation is yet to be acknowledged:
// msg, nil for one run off the queue (RunNow, Reserve), and beat, nil
// with it. onStored, if set, is told how storing the record ended.
type finished struct {
	msg      jetstream.Msg
	inv      *actions.Invocation
	stored   *actions.Pending
	beat     *hub.Heartbeat
	onStored func(error)
}

// maxSlowWriters bounds the records written again at once (committer.slow):
// past it, the committer waits for one of them to end, which holds the
// batches behind it as a store that keeps failing should.
const maxSlowWriters = 16

// committer acknowledges the invocations of finished activations once
// their records are stored, in batches (group commit): the activations that
// end while it waits for one batch's records form the next, whose records
// JetStream then confirms together, so that one goroutine waits once for
// many instead of each activation waiting for its own. An activation's
// goroutine so ends as soon as its record is handed over, and the
// container's next /run does not wait behind it. Blocking callers are not
// in the batch: they got the record before it was stored (handle).
type committer struct {
	iv   *Invoker
	mu   sync.Mutex
	next []finished
	wake chan struct{} // a batch waits
	// slow are the activations whose records are written again (their
	// first write failed or was not acknowledged in time, or the store has
	// no room: storeWhenRoom), each on a goroutine of its own;
	// slowSlots holds one token per slow one.
	slow      sync.WaitGroup
	slowSlots chan struct{}
}

func newCommitter(iv *Invoker) *committer {
	return &committer{iv: iv, wake: make(chan struct{}, 1), slowSlots: make(chan struct{}, maxSlowWriters)}
}

// add queues f for the next batch.
func (c *committer) add(f finished) {
	c.mu.Lock()
	c.next = append(c.next, f)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run commits batches until stop is closed and every activation added
// before is committed. ctx is for the store: it should outlive the
// invoker's, so that what ran is recorded.
func (c *committer) run(ctx context.Context, stop <-chan struct{}) {
	defer c.slow.Wait()
	var batch []finished
	for {
		stopping := false
		select {
		case <-c.wake:
		case <-stop:
			stopping = true
		}
		c.mu.Lock()
		batch, c.next = c.next, batch[:0]
		c.mu.Unlock()
		for i := range batch {
			c.commit(ctx, batch[i])
			batch[i] = finished{}
		}
		if stopping {
			c.mu.Lock()
			left := len(c.next)
			c.mu.Unlock()
			if left == 0 {
				return
			}
		}
	}
}

// commit acknowledges f's invocation once its record is stored, or
// storing it failed for good. A record whose first write failed or is
// overdue is written again on a goroutine
// of its own (and, while the store has no room, tried again:
// storeWhenRoom), so that the records behind it are acknowledged as they
// are stored instead of waiting for its retries.
func (c *committer) commit(ctx context.Context, f finished) {
	err := f.stored.Answer(ctx)
	if err == nil || !retryableStore(err) || !f.stored.WritesAgain() {
		c.ack(ctx, f, err)
		return
	}
	c.slowSlots <- struct{}{}
	c.slow.Go(func() {
		defer func() { <-c.slowSlots }()
		err := f.stored.Wait(ctx)
		if err != nil && retryableStore(err) {
			err = c.iv.storeWhenRoom(ctx, f.inv, f.msg != nil, f.stored, err)
		}
		c.ack(ctx, f, err)
	})
}

// ack ends f: the heartbeat stops, the invocation is acknowledged and its
// parameters stored apart, if any, are deleted.
func (c *committer) ack(ctx context.Context, f finished, err error) {
	iv := c.iv
	if err != nil {
		iv.log.Error("store activation", "activation_id", f.inv.ActivationID, "err", err)
	}
	if f.msg != nil {
		f.beat.Stop()
		if err := f.msg.Ack(); err != nil {
			iv.log.Warn("ack invocation", "activation_id", f.inv.ActivationID, "err", err)
		}
	}
	iv.running.remove(f.inv.ActivationID)
	if f.onStored != nil {
		f.onStored(err)
	}
	if f.inv.PayloadRef != "" {
		// Done with: what a failed delete leaves expires with hub.ParamsTTL.
		if err := hub.DropParams(context.WithoutCancel(ctx), iv.js, f.inv.PayloadRef); err != nil {
			iv.log.Warn("delete the invocation's stored parameters", "activation_id", f.inv.ActivationID, "err", err)
		}
	}
}
