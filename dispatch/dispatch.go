package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// RecordStore keeps activation records (actions.ActivationStore): the
// dispatcher stores those of the sequences it runs, and reads those too
// large to announce.
type RecordStore interface {
	Put(ctx context.Context, a *actions.Activation) error
	Get(ctx context.Context, ns, id string) (*actions.Activation, error)
}

// Releaser gives back a namespace's concurrency slot
// (*throttle.Throttle).
type Releaser interface {
	Release(ctx context.Context, ns string) error
}

// Dispatcher is the controller's side of invocations: it queues them on the
// hub and, for blocking callers, waits for their records. It runs sequences
// itself, component by component.
type Dispatcher struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	actions actions.Getter
	records RecordStore
	log     *slog.Logger
	// params keeps the parameters of the sequences it runs for reruns
	// (their components' are kept by the invokers that run them).
	params *hub.RerunParams

	bg        sync.WaitGroup // sequences still running for callers that stopped waiting
	closing   chan struct{}  // closed by Close: the sequences still running stop
	closeOnce sync.Once

	// One subscription to every completion serves all blocking callers,
	// instead of a subscribe and unsubscribe per call.
	subOnce sync.Once
	sub     *nats.Subscription
	subErr  error
	mu      sync.Mutex
	waiting map[string]chan completion

	slots Releaser // nil: none held
	place *placer
	now   atomic.Pointer[localRunner] // nil: Call queues as Activate does
}

type localRunner struct{ LocalRunner }

// LocalRunner is this process's invoker (*invoker.Invoker), which can run
// a blocking call at once, off the queue, on a container that is warm and
// free now, and reports whether it took it.
type LocalRunner interface {
	RunNow(ctx context.Context, inv *actions.Invocation) bool
	// Reserve takes inv to run here later (start) or give up (cancel),
	// on a container warm and free now or, with wait, in the line of busy
	// warm ones; both are nil when it takes none
	// (invoker.Invoker.Reserve).
	Reserve(ctx context.Context, inv *actions.Invocation, wait bool) (start func(stored func(error)), cancel func())
}

// RunLocally lets Call run blocking calls on this process's invoker, r;
// an invoker started again replaces the one before.
func (d *Dispatcher) RunLocally(r LocalRunner) { d.now.Store(&localRunner{r}) }

// UseSlots makes the dispatcher give back to slots the concurrency slot of
// each sequence that holds one when it completes (the invoker does so for
// other actions). Call it before the first Activate.
func (d *Dispatcher) UseSlots(slots Releaser) { d.slots = slots }

// New returns a dispatcher on h. The queue must exist (hub.OpenInvocations).
// It resolves sequence components with acts and stores sequence records in
// records. Close waits for sequences still running.
func New(h *hub.Hub, acts actions.Getter, records RecordStore, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{js: h.JetStream(), nc: h.Conn(), actions: acts, records: records, log: log,
		params: hub.NewRerunParams(h.JetStream(), 0), closing: make(chan struct{}), waiting: map[string]chan completion{}, place: &placer{members: h.Members}}
}

// Activate runs inv. With wait > 0 it waits up to wait for the activation's
// record and returns it, or nil when the time is up (the activation goes
// on). With wait 0 it returns nil once the activation is queued.
func (d *Dispatcher) Activate(ctx context.Context, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error) {
	return d.activate(ctx, inv, wait, true, false)
}

// Call is Activate for a caller that waits for the record (wait > 0) and
// answers a client with it, as the API's blocking invokes do: when this
// process's invoker (RunLocally) has a container of the action warm and
// free, the activation runs there at once instead of going through the
// queue (invoker.Invoker.RunNow says what that saves and gives up: if the
// process dies meanwhile, the activation is gone with its caller's
// request, not run again later). Work that must survive a crash of the
// process, such as a rule's retried delivery, uses Activate.
func (d *Dispatcher) Call(ctx context.Context, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error) {
	return d.activate(ctx, inv, wait, true, true)
}

func (d *Dispatcher) activate(ctx context.Context, inv *actions.Invocation, wait time.Duration, topmost, now bool) (*actions.Activation, error) {
	if inv.Action.Exec.Kind == actions.KindSequence {
		return d.activateSequence(ctx, inv, wait, topmost)
	}
	if wait <= 0 {
		b, err := d.encode(ctx, inv)
		if err != nil {
			return nil, err
		}
		if _, err := hub.Publish(ctx, d.js, &nats.Msg{Subject: d.place.subject(ctx, inv), Data: b}, jetstream.WithMsgID(inv.ActivationID)); err != nil {
			return nil, fmt.Errorf("queue invocation: %w", err)
		}
		return nil, nil
	}
	done, err := d.await(inv.ActivationID)
	if err != nil {
		return nil, err
	}
	defer d.forget(inv.ActivationID)
	if r := d.now.Load(); !now || r == nil || !r.RunNow(ctx, inv) {
		b, err := d.encode(ctx, inv)
		if err != nil {
			return nil, err
		}
		subject, placed := d.place.take(ctx, inv)
		defer placed()
		if _, err := hub.Publish(ctx, d.js, &nats.Msg{Subject: subject, Data: b}, jetstream.WithMsgID(inv.ActivationID)); err != nil {
			return nil, fmt.Errorf("queue invocation: %w", err)
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case c := <-done:
		if c.rec != nil {
			rec := *c.rec // the invoker still reads it, to store it
			return &rec, nil
		}
		if len(c.data) == 0 { // announced without the record, which is too large: it is stored
			return d.records.Get(ctx, inv.Namespace, inv.ActivationID)
		}
		var rec actions.Activation
		if err := json.Unmarshal(c.data, &rec); err != nil {
			return nil, fmt.Errorf("decode activation: %w", err)
		}
		return &rec, nil
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// encode is inv as the queue's message. A payload larger than
// hub.InlineDataLimit is stored apart (hub.StoreParams) and the message
// carries its reference: a message has at most the server's max payload
// (8 MB embedded, 1 MB by default on an external NATS).
func (d *Dispatcher) encode(ctx context.Context, inv *actions.Invocation) ([]byte, error) {
	if len(inv.Payload) > hub.InlineDataLimit {
		ref, err := hub.StoreParams(ctx, d.js, inv.ActivationID, inv.Payload)
		if err != nil {
			return nil, fmt.Errorf("queue invocation: %w", err)
		}
		c := *inv // the caller's stays whole: a sequence or a retry uses it again
		c.Payload, c.PayloadRef = nil, ref
		inv = &c
	}
	b, err := json.Marshal(inv)
	if err != nil {
		return nil, fmt.Errorf("encode invocation: %w", err)
	}
	return b, nil
}

// Queue puts inv on the work queue like Activate with no wait, as a write
// of b: stored, called once b's Wait returned, says whether it is stored,
// so that a caller with many invocations (the rule engine, for the rules
// of its events) has them stored together with its other writes. A
// sequence starts in the background, as Activate starts it.
func (d *Dispatcher) Queue(ctx context.Context, b *hub.Batch, inv *actions.Invocation) (stored func() error, err error) {
	if inv.Action.Exec.Kind == actions.KindSequence {
		_, err := d.activate(ctx, inv, 0, true, false)
		return func() error { return nil }, err
	}
	data, err := d.encode(ctx, inv)
	if err != nil {
		return nil, err
	}
	w := b.Publish(&nats.Msg{Subject: d.place.subject(ctx, inv), Data: data}, jetstream.WithMsgID(inv.ActivationID))
	return func() error {
		if err := w.Err(); err != nil {
			return fmt.Errorf("queue invocation: %w", err)
		}
		return nil
	}, nil
}

// Reserve takes inv to run on this process's invoker (RunLocally), for
// the rule engine to run it there once its event's writes are stored
// instead of queuing it: start runs it and calls stored once its record
// is stored (invoker.Invoker.Reserve); cancel gives it up. It does so only
// when this process is the only Gust process (alone), whose invoker the
// queue would bring inv to anyway, and that invoker has a container of the
// action warm, free now or busy: with other processes, placement decides,
// and only the queue drops an invocation that another rule engine took
// again. Else start and cancel are nil. An activation run so is not run
// again after a crash of this process: its caller must acknowledge its own
// work (the event) only once stored was called.
func (d *Dispatcher) Reserve(ctx context.Context, inv *actions.Invocation) (start func(stored func(error)), cancel func()) {
	r := d.now.Load()
	if r == nil || !d.place.alone(ctx) {
		return nil, nil
	}
	return r.Reserve(ctx, inv, true)
}

// activateSequence runs a sequence in the background, so that it finishes
// even when its caller stops waiting, and waits for it up to wait.
func (d *Dispatcher) activateSequence(ctx context.Context, inv *actions.Invocation, wait time.Duration, topmost bool) (*actions.Activation, error) {
	done := make(chan *actions.Activation, 1)
	bctx, cancel := d.detach(ctx)
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		defer cancel()
		rec := d.runSequence(bctx, inv, topmost)
		d.release(bctx, inv)
		done <- rec
	}()
	if wait <= 0 {
		return nil, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case rec := <-done:
		return rec, nil
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// detach returns a context for work that outlives its caller, who may stop
// waiting: it keeps ctx's values (the trace) but not its end, and ends when
// the dispatcher closes, or with cancel.
func (d *Dispatcher) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-d.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// await registers interest in activation id's completion.
func (d *Dispatcher) await(id string) (chan completion, error) {
	d.subOnce.Do(func() {
		d.sub, d.subErr = d.nc.Subscribe(hub.DonePrefix+"*", func(m *nats.Msg) {
			d.deliver(strings.TrimPrefix(m.Subject, hub.DonePrefix), completion{data: m.Data})
		})
	})
	if d.subErr != nil {
		return nil, fmt.Errorf("wait for activation: %w", d.subErr)
	}
	ch := make(chan completion, 1)
	d.mu.Lock()
	d.waiting[id] = ch
	d.mu.Unlock()
	return ch, nil
}

// completion is a finished activation's record: decoded when handed over
// in the process, else as announced on NATS.
type completion struct {
	rec  *actions.Activation
	data []byte
}

// Deliver hands rec, the record of activation id that an invoker of this
// process finished, to the caller waiting for it, and reports whether one
// was (then it need not be announced on NATS). A nil dispatcher has none.
func (d *Dispatcher) Deliver(id string, rec *actions.Activation) bool {
	return d != nil && d.deliver(id, completion{rec: rec})
}

// deliver hands the record of activation id to the caller waiting for it,
// and reports whether one was.
func (d *Dispatcher) deliver(id string, c completion) bool {
	d.mu.Lock()
	ch := d.waiting[id]
	d.mu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case ch <- c:
	default: // already answered
	}
	return true
}

func (d *Dispatcher) forget(id string) {
	d.mu.Lock()
	delete(d.waiting, id)
	d.mu.Unlock()
}

// release gives back inv's slot, if it holds one.
func (d *Dispatcher) release(ctx context.Context, inv *actions.Invocation) {
	if !inv.Slot || d.slots == nil {
		return
	}
	if err := d.slots.Release(context.WithoutCancel(ctx), inv.Namespace); err != nil {
		d.log.Warn("release concurrency slot", "activation_id", inv.ActivationID, "err", err)
	}
}

// Close stops the sequences still running, waits for them and drops the
// completion subscription.
func (d *Dispatcher) Close() {
	d.closeOnce.Do(func() { close(d.closing) })
	d.bg.Wait()
	if d.sub != nil {
		_ = d.sub.Unsubscribe()
	}
}
