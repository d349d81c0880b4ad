package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/hub"
)

// CodeStore reads actions with their code, for /init.
type CodeStore interface {
	GetAction(ctx context.Context, n actions.Name, withCode bool) (*actions.Action, uint64, error)
}

// RecordStore keeps activation records.
type RecordStore interface {
	Put(ctx context.Context, a *actions.Activation) error
}

// encodedRecordStore is a RecordStore that can store a record already
// encoded as JSON, without waiting for it (actions.ActivationStore): the
// invoker encodes a record once, for its announcement and its storage, and
// the records of the activations that end together are written together.
type encodedRecordStore interface {
	PutAsync(ctx context.Context, a *actions.Activation, b []byte) (stored func(context.Context) error)
}

// recordGetter reads stored records (actions.ActivationStore), for the
// records too large to announce.
type recordGetter interface {
	Get(ctx context.Context, ns, id string) (*actions.Activation, error)
}

// ImageFunc returns the image that runs exec, and whether that image runs
// Gust's own action proxy (reachable on a Unix socket). Its errors should
// wrap ErrImage when the action, not the system, is at fault.
type ImageFunc func(ctx context.Context, exec actions.Exec) (image string, proxySocket bool, err error)

// ErrImage marks an image error that is the action's fault, such as a
// blackbox image that is not on the machine.
var ErrImage = errImage

// Options configure an Invoker.
type Options struct {
	// APIHost is given to actions as __OW_API_HOST.
	APIHost string
	// MaxInFlight bounds the activations this invoker runs at once.
	MaxInFlight int
	// Local is the dispatcher of this process, if any: a record one of its
	// callers waits for is handed to it directly instead of announced on
	// NATS, which saves the blocking invoke a round trip through the server.
	Local  *Dispatcher
	Logger *slog.Logger
	// Builtins are the actions the invoker runs in Go, without a
	// container; nil means RegisteredBuiltins().
	Builtins *Builtins
	// Observer, if set, is told of every activation (metrics, traces).
	Observer Observer
	// Slots, if set, takes back the concurrency slot of each invocation
	// that holds one (actions.Invocation.Slot) when it completes.
	Slots Releaser
	// Building, if set, returns the runtime kinds whose images the
	// sandbox is building now; the invoker tells PoolView.Building.
	Building func() []string
	// Egress is where built-in actions may connect on a user's behalf
	// (Call.Egress); nil allows public addresses only.
	Egress *egress.Policy
}

// Releaser gives back a namespace's concurrency slot
// (*throttle.Throttle).
type Releaser interface {
	Release(ctx context.Context, ns string) error
}

// release gives back inv's slot, if it holds one, to slots.
func release(ctx context.Context, slots Releaser, inv *actions.Invocation, log *slog.Logger) {
	if !inv.Slot || slots == nil {
		return
	}
	if err := slots.Release(context.WithoutCancel(ctx), inv.Namespace); err != nil {
		log.Warn("release concurrency slot", "activation_id", inv.ActivationID, "err", err)
	}
}

// Invoker pulls invocations from the hub's work queue and runs them in its
// container pool, then stores each activation record and announces it.
type Invoker struct {
	js       jetstream.JetStream
	nc       *nats.Conn
	pool     *Pool
	code     CodeStore
	rec      RecordStore
	images   ImageFunc
	opts     Options
	log      *slog.Logger
	builtins *Builtins
	space    func() error // the hub's CheckSpace
	inFlight atomic.Int64 // activations taken and not yet acknowledged
	// params keeps the invocations' parameters for reruns.
	params *hub.RerunParams
	// queue names this invoker's home queue (placement.go), advertised
	// once its consumer exists (homeReady); members lists the live ones.
	queue     string
	homeReady atomic.Bool
	members   Members
}

// New returns an invoker; Run starts it.
func New(h *hub.Hub, pool *Pool, code CodeStore, records RecordStore, images ImageFunc, opts Options) *Invoker {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	if opts.Builtins == nil {
		opts.Builtins = RegisteredBuiltins()
	}
	return &Invoker{js: h.JetStream(), nc: h.Conn(), pool: pool, code: code, rec: records, images: images, opts: opts, log: log,
		builtins: opts.Builtins, space: h.CheckSpace, params: hub.NewRerunParams(h.JetStream(), 0),
		queue: strings.ToLower(nuid.Next()), members: h.Members}
}

// Run consumes invocations until ctx ends, then waits for the activations
// in flight to finish.
func (iv *Invoker) Run(ctx context.Context) error {
	st, err := bindQueue(ctx, iv.js) // provisioned by serve (OpenQueue)
	if err != nil {
		return err
	}
	consumer := func(name, filter string, inactive time.Duration) (jetstream.Consumer, error) {
		c, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:           name,
			FilterSubject:     filter,
			AckPolicy:         jetstream.AckExplicitPolicy,
			AckWait:           invokeAckWait,
			MaxAckPending:     10000,
			MaxDeliver:        invokeMaxDeliver,
			InactiveThreshold: inactive,
		})
		if err != nil {
			return nil, fmt.Errorf("open consumer %s: %w", name, err)
		}
		return c, nil
	}
	cons, err := consumer(invokeConsumer, sharedFilter, 0)
	if err != nil {
		return err
	}
	// The home queue's consumer outlives a dead invoker by an hour, for
	// the others to take over what waits on it (takeOver).
	home, err := consumer(homeConsumerPrefix+iv.queue, homePrefix+iv.queue+".*", time.Hour)
	if err != nil {
		return err
	}
	poolSub, err := iv.servePool()
	if err != nil {
		return fmt.Errorf("answer pool requests: %w", err)
	}
	defer func() { _ = poolSub.Unsubscribe() }()
	if iv.opts.Building != nil {
		sub, err := iv.serveBuilding()
		if err != nil {
			return fmt.Errorf("answer runtime build requests: %w", err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { iv.trimQueue(ctx, st) })
	wg.Go(func() { iv.takeOver(ctx, st) })
	it, err := cons.Messages(jetstream.PullMaxMessages(iv.opts.MaxInFlight))
	if err != nil {
		return fmt.Errorf("consume %s: %w", InvokeStream, err)
	}
	homeIt, err := home.Messages(jetstream.PullMaxMessages(iv.opts.MaxInFlight))
	if err != nil {
		it.Stop()
		return fmt.Errorf("consume %s: %w", InvokeStream, err)
	}
	homeDone := make(chan error, 1)
	go func() {
		homeDone <- hub.Consume(ctx, homeIt, iv.opts.MaxInFlight, InvokeStream+" with "+homeConsumerPrefix+iv.queue, iv.log, iv.work)
	}()
	iv.homeReady.Store(true)
	err = hub.Consume(ctx, it, iv.opts.MaxInFlight, InvokeStream+" with "+invokeConsumer, iv.log, iv.work)
	if herr := <-homeDone; err == nil {
		err = herr
	}
	return err
}

// work runs one invocation of the queue.
func (iv *Invoker) work(ctx context.Context, msg jetstream.Msg) {
	// An invocation stays on the queue until its record is stored:
	// if this invoker dies, another takes it after invokeAckWait.
	// While it runs, the invoker tells JetStream so, every third of that.
	var inv actions.Invocation
	if err := json.Unmarshal(msg.Data(), &inv); err != nil {
		_ = msg.Term()
		iv.log.Error("undecodable invocation dropped", "err", err)
		return
	}
	iv.take(ctx, msg, &inv)
}

// Invocations are at least once on the queue and at most once in records:
// one an invoker took stays on the queue until its record is stored, and
// goes to another invoker when the first stops saying it is working on it
// (it died). A redelivered invocation whose record exists already (its
// invoker died between storing and acknowledging) is not run again.
const (
	invokeAckWait    = 15 * time.Second
	invokeMaxDeliver = 5
)

// take runs the invocation in msg, unless an earlier delivery of it ran
// already, and acknowledges it once its record is stored.
func (iv *Invoker) take(ctx context.Context, msg jetstream.Msg, inv *actions.Invocation) {
	iv.inFlight.Add(1)
	defer iv.inFlight.Add(-1)
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > 1 {
		if g, ok := iv.rec.(recordGetter); ok {
			if _, err := g.Get(ctx, inv.Namespace, inv.ActivationID); err == nil {
				iv.log.Info("redelivered invocation ran already", "activation_id", inv.ActivationID)
				iv.announce(inv.ActivationID, nil) // a caller still waiting reads it from the store
				_ = msg.Ack()
				return
			}
		}
		iv.log.Info("running an invocation another invoker took and did not finish", "activation_id", inv.ActivationID, "delivery", md.NumDelivered)
	}
	// While it runs, JetStream is told so every third of invokeAckWait, by
	// a timer that starts no goroutine until it fires.
	var mu sync.Mutex
	done := false
	var beat *time.Timer
	mu.Lock()
	beat = time.AfterFunc(invokeAckWait/3, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			_ = msg.InProgress()
			beat.Reset(invokeAckWait / 3)
		}
	})
	mu.Unlock()
	stored := iv.handle(ctx, inv)
	err := stored(ctx)
	if err != nil && retryableStore(err) {
		err = iv.storeWhenRoom(ctx, inv, stored, err)
	}
	if err != nil {
		iv.log.Error("store activation", "activation_id", inv.ActivationID, "err", err)
	}
	mu.Lock()
	done = true
	beat.Stop()
	mu.Unlock()
	if err := msg.Ack(); err != nil {
		iv.log.Warn("ack invocation", "activation_id", inv.ActivationID, "err", err)
	}
	if inv.PayloadRef != "" {
		// Done with: what a failed delete leaves expires with hub.ParamsTTL.
		if err := hub.DropParams(context.WithoutCancel(ctx), iv.js, inv.PayloadRef); err != nil {
			iv.log.Warn("delete the invocation's stored parameters", "activation_id", inv.ActivationID, "err", err)
		}
	}
}

// recordRoomWait bounds how long the invoker keeps trying to store the
// record of a finished activation that its store could not keep (storage
// full, JetStream restarting after its disk ran out): meanwhile the
// invocation stays on the queue, unacknowledged and kept alive, so that
// it is neither lost nor run again. While the hub reports storage full
// (CheckSpace), it does not try.
const recordRoomWait = 3 * time.Minute

// retryableStore reports whether a record that failed to store with err
// may store later: not when the connection is closing (Gust stops).
func retryableStore(err error) bool {
	return !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrConnectionDraining) && !errors.Is(err, context.Canceled)
}

// storeWhenRoom tries stored again every few seconds, while the hub sees
// room, until it works, fails for good, or recordRoomWait ends.
func (iv *Invoker) storeWhenRoom(ctx context.Context, inv *actions.Invocation, stored func(context.Context) error, err error) error {
	iv.log.Warn("activation record not stored yet: trying again while its invocation stays queued", "activation_id", inv.ActivationID, "err", err)
	for deadline := time.Now().Add(recordRoomWait); time.Now().Before(deadline); {
		t := time.NewTimer(2 * time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		if iv.space != nil && iv.space() != nil {
			continue
		}
		if err = stored(ctx); err == nil || !retryableStore(err) {
			if err == nil {
				iv.log.Info("activation record stored at a later try", "activation_id", inv.ActivationID)
			}
			return err
		}
	}
	return err
}

// handle runs one invocation, announces its record and hands it to the
// store; stored waits until the store has it. The announcement goes first:
// it carries the whole record, so a blocking caller need not wait for the
// store (as in OpenWhisk, where blocking calls are answered from the
// invoker's completion message).
func (iv *Invoker) handle(ctx context.Context, inv *actions.Invocation) (stored func(context.Context) error) {
	var observed func(*actions.Activation)
	if iv.opts.Observer != nil {
		inv.TraceParent, observed = iv.opts.Observer.Taken(ctx, inv)
	}
	rec := iv.activate(ctx, inv)
	release(ctx, iv.opts.Slots, inv, iv.log)
	// Kept for `gust activation rerun` (hub.RerunParams says what is kept).
	// Parameters by reference (over 768 KB) are more than is kept.
	if inv.PayloadRef == "" {
		if _, err := iv.params.Keep(ctx, inv.Namespace, inv.ActivationID, inv.Payload); err != nil {
			iv.log.Warn("parameters not kept for a rerun", "activation_id", inv.ActivationID, "err", err)
		}
	}
	if observed != nil {
		observed(rec)
	}
	// A caller waiting in this process gets the record before it is
	// encoded, which it need not wait for.
	handed := iv.opts.Local != nil && iv.opts.Local.deliver(inv.ActivationID, completion{rec: rec})
	b, err := rec.MarshalJSON() // not json.Marshal, which would check and compact it again
	if err != nil {
		err = fmt.Errorf("encode activation: %w", err)
		return func(context.Context) error { return err }
	}
	// A record too large for one NATS message is announced once stored,
	// without its body: the caller reads it from the store.
	whole := int64(len(b)) <= iv.nc.MaxPayload()-announceHeadroom
	if !handed && whole {
		iv.announce(inv.ActivationID, b)
	}
	if es, ok := iv.rec.(encodedRecordStore); ok {
		stored = es.PutAsync(ctx, rec, b)
	} else {
		stored = func(ctx context.Context) error { return iv.rec.Put(ctx, rec) }
	}
	if !handed && !whole {
		err := stored(ctx)
		iv.announce(inv.ActivationID, nil)
		return func(context.Context) error { return err }
	}
	return stored
}

// announceHeadroom is what a NATS message needs beside its body.
const announceHeadroom = 4 << 10

// announce publishes activation id's completion: its record, or nil for
// one that is too large for a message and is to be read from the store.
func (iv *Invoker) announce(id string, b []byte) {
	if err := iv.nc.Publish(DoneSubject(id), b); err != nil {
		iv.log.Warn("announce activation", "activation_id", id, "err", err)
	}
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

	bg     sync.WaitGroup // sequences still running for callers that stopped waiting
	stopBg context.CancelFunc
	bgCtx  context.Context

	// One subscription to every completion serves all blocking callers,
	// instead of a subscribe and unsubscribe per call.
	subOnce sync.Once
	sub     *nats.Subscription
	subErr  error
	mu      sync.Mutex
	waiting map[string]chan completion

	slots Releaser // nil: none held
	place *placer
}

// UseSlots makes the dispatcher give back to slots the concurrency slot of
// each sequence that holds one when it completes (the invoker does so for
// other actions). Call it before the first Activate.
func (d *Dispatcher) UseSlots(slots Releaser) { d.slots = slots }

// NewDispatcher returns a dispatcher on h. The queue must exist (OpenQueue).
// It resolves sequence components with acts and stores sequence records in
// records. Close waits for sequences still running.
func NewDispatcher(h *hub.Hub, acts actions.Getter, records RecordStore, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{js: h.JetStream(), nc: h.Conn(), actions: acts, records: records, log: log,
		params: hub.NewRerunParams(h.JetStream(), 0), bgCtx: ctx, stopBg: cancel, waiting: map[string]chan completion{}, place: &placer{members: h.Members}}
}

// Activate runs inv. With wait > 0 it waits up to wait for the activation's
// record and returns it, or nil when the time is up (the activation goes
// on). With wait 0 it returns nil once the activation is queued.
func (d *Dispatcher) Activate(ctx context.Context, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error) {
	return d.activate(ctx, inv, wait, true)
}

func (d *Dispatcher) activate(ctx context.Context, inv *actions.Invocation, wait time.Duration, topmost bool) (*actions.Activation, error) {
	if inv.Action.Exec.Kind == actions.KindSequence {
		return d.activateSequence(ctx, inv, wait, topmost)
	}
	b, err := d.encode(ctx, inv)
	if err != nil {
		return nil, err
	}
	var done chan completion
	if wait > 0 {
		var err error
		if done, err = d.await(inv.ActivationID); err != nil {
			return nil, err
		}
		defer d.forget(inv.ActivationID)
	}
	if _, err := hub.Publish(ctx, d.js, &nats.Msg{Subject: d.place.subject(ctx, inv), Data: b}, jetstream.WithMsgID(inv.ActivationID)); err != nil {
		return nil, fmt.Errorf("queue invocation: %w", err)
	}
	if wait <= 0 {
		return nil, nil
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
			g, ok := d.records.(recordGetter)
			if !ok {
				return nil, fmt.Errorf("activation %s is too large to announce, and its store cannot be read", inv.ActivationID)
			}
			return g.Get(ctx, inv.Namespace, inv.ActivationID)
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

// queueAckWait bounds how long Queue's stored waits for JetStream.
const queueAckWait = 10 * time.Second

// Queue puts inv on the work queue like Activate with no wait, but returns
// before JetStream has stored it: stored waits for that, so that a caller
// with many invocations (the rule engine, for the rules of an event) has
// them stored together. A sequence starts in the background, as Activate
// starts it.
func (d *Dispatcher) Queue(ctx context.Context, inv *actions.Invocation) (stored func(context.Context) error, err error) {
	if inv.Action.Exec.Kind == actions.KindSequence {
		_, err := d.activate(ctx, inv, 0, true)
		return func(context.Context) error { return nil }, err
	}
	b, err := d.encode(ctx, inv)
	if err != nil {
		return nil, err
	}
	f, err := d.js.PublishAsync(d.place.subject(ctx, inv), b, jetstream.WithMsgID(inv.ActivationID))
	if err != nil {
		return nil, fmt.Errorf("queue invocation: %w", err)
	}
	return func(ctx context.Context) error {
		t := time.NewTimer(queueAckWait)
		defer t.Stop()
		select {
		case <-f.Ok():
			return nil
		case err := <-f.Err():
			return fmt.Errorf("queue invocation: %w", err)
		case <-t.C:
			return fmt.Errorf("queue invocation: no acknowledgement within %v", queueAckWait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// activateSequence runs a sequence in the background, so that it finishes
// even when its caller stops waiting, and waits for it up to wait.
func (d *Dispatcher) activateSequence(ctx context.Context, inv *actions.Invocation, wait time.Duration, topmost bool) (*actions.Activation, error) {
	done := make(chan *actions.Activation, 1)
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		rec := d.runSequence(d.bgCtx, inv, topmost)
		release(d.bgCtx, d.slots, inv, d.log)
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

// await registers interest in activation id's completion.
func (d *Dispatcher) await(id string) (chan completion, error) {
	d.subOnce.Do(func() {
		d.sub, d.subErr = d.nc.Subscribe(doneSubjectPrefix+"*", func(m *nats.Msg) {
			d.deliver(strings.TrimPrefix(m.Subject, doneSubjectPrefix), completion{data: m.Data})
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

// Close stops the sequences still running, waits for them and drops the
// completion subscription.
func (d *Dispatcher) Close() {
	d.stopBg()
	d.bg.Wait()
	if d.sub != nil {
		_ = d.sub.Unsubscribe()
	}
}
