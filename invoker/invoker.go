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
	"github.com/gusthub/gust/internal/backoff"
	"github.com/gusthub/gust/internal/workers"
)

// CodeStore reads actions with their code, for /init.
type CodeStore interface {
	GetAction(ctx context.Context, n actions.Name, withCode bool) (*actions.Action, uint64, error)
}

// RecordStore keeps activation records (*actions.ActivationStore).
type RecordStore interface {
	// PutAsync starts storing a, already encoded as b (the invoker encodes
	// a record once, for its announcement and its storage, so that the
	// records of activations that end together are written together), and
	// returns the record pending: its Answer tells when it is stored.
	PutAsync(ctx context.Context, a *actions.Activation, b []byte) *actions.Pending
	// PutAsyncKeeping is PutAsync that also keeps params, the
	// activation's parameters for a rerun, on the record's message, which
	// saves their own write; kept is false when they cannot travel there,
	// for the invoker to keep them apart (hub.RerunParams).
	PutAsyncKeeping(ctx context.Context, a *actions.Activation, b []byte, params json.RawMessage) (stored *actions.Pending, kept bool)
	// Get reads a stored record, to tell whether a redelivered invocation
	// ran already; its error wraps hub.ErrNotFound when there is none.
	Get(ctx context.Context, ns, id string) (*actions.Activation, error)
}

// Waiters are the callers of this process that wait for activation
// records (*dispatch.Dispatcher).
type Waiters interface {
	// Deliver hands rec to the caller waiting for activation id, and
	// reports whether one was.
	Deliver(id string, rec *actions.Activation) bool
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
	// MaxInFlight bounds the activations this invoker runs at once from
	// each of its two queues, its home queue and the shared one: up to
	// twice that in all when both have work. (One bound for both would
	// leave what one queue's client fetched waiting, unacknowledged and
	// without heartbeats, while the other's ran.)
	MaxInFlight int
	// Local is the dispatcher of this process, if any: a record one of its
	// callers waits for is handed to it directly instead of announced on
	// NATS, which saves the blocking invoke a round trip through the server.
	Local  Waiters
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
	// sandbox is building now; the invoker tells dispatch.PoolView.Building.
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
	// running are the activations this invoker took and has not yet
	// acknowledged (its load in flight), so that a later delivery of one
	// is not run beside it.
	running runningSet
	// params keeps the invocations' parameters for reruns.
	params *hub.RerunParams
	// queue names this invoker's home queue (placement.go), advertised
	// once its consumer exists (homeReady); members lists the live ones.
	queue     string
	homeReady atomic.Bool
	members   Members
	commits   *committer
	// now are the activations of this process run off the queue: its
	// blocking calls (RunNow) and what it reserved (Reserve); they are
	// taken while open, until the invoker stops. reserved counts the
	// reservations until they are given back or their runs end.
	nowMu    sync.Mutex
	nowOpen  bool
	now      workers.Group // keeps its goroutines' grown stacks from call to call
	reserved sync.WaitGroup
	inLine   atomic.Int32 // the reserved that wait in a line of the pool
	// stopping ends when Run's context does: a reserved run still in line
	// then gives up (reservation.takeInLine).
	stopping context.Context
	// invocations reads what the queue delivers.
	invocations actions.InvocationDecoder
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
// in flight to finish; the reserved ones (Reserve) still waiting in line
// for a container are given up.
func (iv *Invoker) Run(ctx context.Context) error {
	iv.stopping = ctx
	st, err := bindQueue(ctx, iv.js) // provisioned by serve (hub.OpenInvocations)
	if err != nil {
		return err
	}
	consumer := func(name, filter string, inactive time.Duration) (jetstream.Consumer, error) {
		cfg := jetstream.ConsumerConfig{
			Durable:           name,
			FilterSubject:     filter,
			AckPolicy:         jetstream.AckExplicitPolicy,
			AckWait:           invokeAckWait,
			MaxAckPending:     10000,
			MaxDeliver:        invokeMaxDeliver,
			InactiveThreshold: inactive,
		}
		// An invoker that starts while its cluster elects leaders (a
		// node was just lost) waits for them, instead of stopping Gust.
		return hub.OpenConsumer(ctx, st, cfg, iv.log)
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
	runningSub, err := iv.serveRunning()
	if err != nil {
		return fmt.Errorf("answer running requests: %w", err)
	}
	defer func() { _ = runningSub.Unsubscribe() }()
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
	// The committer stops after everything that takes invocations, once
	// what they ran is recorded and acknowledged.
	var wg sync.WaitGroup
	iv.commits = newCommitter(iv)
	stopCommits, committed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(committed)
		iv.commits.run(context.WithoutCancel(ctx), stopCommits)
	}()
	iv.openNow(true)
	defer func() {
		wg.Wait()
		iv.openNow(false)
		iv.reserved.Wait() // their runs still need iv.now
		iv.now.Wait()
		close(stopCommits)
		<-committed
	}()
	wg.Go(func() { iv.trimQueue(ctx, st) })
	wg.Go(func() { iv.takeOver(ctx, st) })
	it, err := cons.Messages(jetstream.PullMaxMessages(iv.opts.MaxInFlight), jetstream.PullExpiry(hub.PullExpiryFor(iv.nc)))
	if err != nil {
		return fmt.Errorf("consume %s: %w", InvokeStream, err)
	}
	homeIt, err := home.Messages(jetstream.PullMaxMessages(iv.opts.MaxInFlight), jetstream.PullExpiry(hub.PullExpiryFor(iv.nc)))
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

// RunNow starts inv at once, off the queue, on a container of its action
// that is warm and free here now, which it claims, and reports whether it
// did; its record goes to the Local waiters and the store as a queued
// one's does. It is for a blocking call whose caller, in this process,
// waits for the record (dispatch.Dispatcher.Call): a queued invocation
// costs a write to the queue, its delivery and its acknowledgement, each a
// round trip through the NATS server, to buy what such a call does not
// need: placement on another invoker, a wait for a free container that
// the queue's consumer bounds, and a run after a crash of this process,
// whose caller is gone with it. Built-in actions take the queue.
func (iv *Invoker) RunNow(ctx context.Context, inv *actions.Invocation) bool {
	if iv.opts.Local == nil {
		return false
	}
	r := iv.reserve(ctx, inv, false)
	if r == nil {
		return false
	}
	r.start(nil)
	return true
}

// reservation is an invocation that will run here, off the queue, once
// its caller starts it (Reserve): on lease, a container claimed for it, or
// else in the line of its action's warm containers (inLine); cancel gives
// it up. The invoker does not stop before one or the other.
type reservation struct {
	iv     *Invoker
	ctx    context.Context
	inv    actions.Invocation // its own: the run sets TraceParent
	lease  *Lease
	inLine bool
}

// Reserve takes inv to run here, off the queue, once its caller starts it
// (the rule engine starts a rule's activation once its event's other
// writes are stored): on a container of its action warm and free now,
// which it claims, or, with wait, when a warm container of the action here
// is busy, in the action's line (what the queue's consumer would do with
// it on one machine), as long as fewer than maxInLine wait so.
// It takes nothing, and start and cancel are nil, when no such container
// is here, the action is a sequence or built in, its parameters travel by
// reference, inv runs here already, or the invoker stops. Otherwise the
// caller must call one of them, once: start runs inv and calls stored, if
// not nil, with nil once its record is stored, with actions.ErrNotStarted
// when the invoker stopped while it waited in line (it did not run, and
// its concurrency slot is the caller's again), or with why its record was
// not stored; cancel gives it up. A reserved run is recorded as a queued
// one is, with nothing to acknowledge.
func (iv *Invoker) Reserve(ctx context.Context, inv *actions.Invocation, wait bool) (start func(stored func(error)), cancel func()) {
	if r := iv.reserve(ctx, inv, wait); r != nil {
		return r.start, r.cancel
	}
	return nil, nil
}

// maxInLine bounds the reserved runs that wait in a line of the pool
// (Reserve with wait); past it they take the queue. The rule engine,
// which reserves them, holds their events unacknowledged, at most 1000
// (its consumer's MaxAckPending): half of that is left to the events of
// other triggers, which would wait behind a busy action's otherwise.
const maxInLine = 500

func (iv *Invoker) reserve(ctx context.Context, inv *actions.Invocation, wait bool) *reservation {
	if inv.PayloadRef != "" || inv.Action.Exec.Kind == actions.KindSequence {
		return nil
	}
	if _, ok := iv.builtinOf(&inv.Action); ok {
		return nil
	}
	// Claimed here, not when the run asks the pool: calls that arrive
	// together would all see it free, and all but one wait for it here
	// instead of taking the queue.
	key := warmKey(inv)
	lease := iv.pool.TryWarm(ctx, key)
	inLine := false
	if lease == nil {
		if !wait || iv.inLine.Load() >= maxInLine || !iv.pool.HasWarm(key) {
			return nil
		}
		inLine = true
	}
	iv.nowMu.Lock()
	defer iv.nowMu.Unlock()
	if !iv.nowOpen || !iv.running.add(inv.ActivationID) { // stopping, or running already
		if lease != nil {
			iv.pool.releaseUnused(lease)
		}
		return nil
	}
	iv.reserved.Add(1)
	if inLine {
		iv.inLine.Add(1)
	}
	// The run outlives a caller that stops waiting.
	return &reservation{iv: iv, ctx: context.WithoutCancel(ctx), inv: *inv, lease: lease, inLine: inLine}
}

func (r *reservation) start(stored func(error)) {
	iv := r.iv
	iv.nowMu.Lock() // Go is not safe beside the Wait of a stopping invoker
	defer iv.nowMu.Unlock()
	iv.now.Go(func() {
		defer r.end()
		if r.inLine && !r.takeInLine() {
			iv.running.remove(r.inv.ActivationID)
			if stored != nil {
				stored(actions.ErrNotStarted) // its slot goes with it
			} else {
				release(r.ctx, iv.opts.Slots, &r.inv, iv.log)
			}
			return
		}
		iv.commits.add(finished{inv: &r.inv, stored: iv.handle(r.ctx, &r.inv, r.lease), onStored: stored})
	})
}

// takeInLine waits in the line of the action's containers for one, until
// the invoker stops, and reports false if it stopped first: a run that
// has not started is given back then (actions.ErrNotStarted), not waited
// for, as the queue's consumer leaves what it has not taken. A container
// that cannot be had for another reason is left to the run, which tries
// again and records why.
func (r *reservation) takeInLine() bool {
	iv, a := r.iv, &r.inv.Action
	spec, err := iv.spec(r.ctx, a)
	if err != nil {
		return true
	}
	req := Request{Key: warmKey(&r.inv), Spec: spec, Concurrency: a.Limits.Concurrency}
	if r.lease, err = iv.pool.Acquire(iv.stopping, req); err != nil {
		return iv.stopping.Err() == nil
	}
	return true
}

func (r *reservation) cancel() {
	if r.lease != nil {
		r.iv.pool.releaseUnused(r.lease)
	}
	r.iv.running.remove(r.inv.ActivationID)
	r.end()
}

func (r *reservation) end() {
	if r.inLine {
		r.iv.inLine.Add(-1)
	}
	r.iv.reserved.Done()
}

// openNow opens or closes RunNow.
func (iv *Invoker) openNow(open bool) {
	iv.nowMu.Lock()
	iv.nowOpen = open
	iv.nowMu.Unlock()
}

// work runs one invocation of the queue.
func (iv *Invoker) work(ctx context.Context, msg jetstream.Msg) {
	// An invocation stays on the queue until its record is stored:
	// if this invoker dies, another takes it after invokeAckWait.
	// While it runs, the invoker tells JetStream so, every third of that.
	var inv actions.Invocation
	if err := iv.invocations.Decode(msg.Data(), &inv); err != nil {
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
// already, and hands it to the committer, which acknowledges it once its
// record is stored.
func (iv *Invoker) take(ctx context.Context, msg jetstream.Msg, inv *actions.Invocation) {
	if !iv.running.add(inv.ActivationID) {
		// JetStream delivered it again while it runs here: heartbeats were
		// lost (its stream's leader changed, say). The run under way
		// acknowledges it, by stream sequence, for both deliveries.
		iv.log.Info("redelivered invocation is running here", "activation_id", inv.ActivationID)
		return
	}
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > 1 {
		ran, err := iv.recorded(msg, inv)
		if err != nil { // the invoker stops: the invocation goes back to the queue
			iv.running.remove(inv.ActivationID)
			return
		}
		if ran {
			iv.log.Info("redelivered invocation ran already", "activation_id", inv.ActivationID)
			iv.announce(inv.ActivationID, nil) // a caller still waiting reads it from the store
			_ = msg.Ack()
			iv.running.remove(inv.ActivationID)
			return
		}
		if iv.runningElsewhere(ctx, inv.ActivationID) {
			// Its invoker lives and runs it: JetStream gave it again
			// after a leader change, or this invoker took over a home
			// queue whose invoker missed its advertisements. That run
			// acknowledges it.
			iv.log.Info("redelivered invocation is running on another invoker", "activation_id", inv.ActivationID, "delivery", md.NumDelivered)
			iv.running.remove(inv.ActivationID)
			return
		}
		iv.log.Info("running an invocation another invoker took and did not finish", "activation_id", inv.ActivationID, "delivery", md.NumDelivered)
	}
	beat := hub.StartHeartbeat(msg, invokeAckWait/3)
	iv.commits.add(finished{msg: msg, inv: inv, stored: iv.handle(ctx, inv, nil), beat: beat})
}

// recorded reports whether a redelivered invocation has its record. A
// store that cannot answer (its stream electing a leader after a node was
// lost, say) is asked again every second, the invocation kept alive
// meanwhile, until it answers or the invoker stops (err): taken for "not
// recorded", its failure ran invocations a second time in a cluster that
// lost its controller (TestClusterKillUnderLoad).
func (iv *Invoker) recorded(msg jetstream.Msg, inv *actions.Invocation) (bool, error) {
	var beat *hub.Heartbeat
	defer func() {
		if beat != nil {
			beat.Stop()
		}
	}()
	for {
		_, err := iv.rec.Get(iv.stopping, inv.Namespace, inv.ActivationID)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, hub.ErrNotFound):
			return false, nil
		case iv.stopping.Err() != nil:
			return false, iv.stopping.Err()
		}
		if beat == nil {
			iv.log.Warn("cannot tell whether a redelivered invocation ran; asking its record store again", "activation_id", inv.ActivationID, "err", err)
			beat = hub.StartHeartbeat(msg, invokeAckWait/3)
		}
		if !backoff.Wait(iv.stopping, time.Second) {
			return false, iv.stopping.Err()
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

// storeWhenRoom writes a record again every few seconds (stored.Wait),
// while the hub sees room, until it works, fails for good, or
// recordRoomWait ends.
func (iv *Invoker) storeWhenRoom(ctx context.Context, inv *actions.Invocation, queued bool, stored *actions.Pending, err error) error {
	why := "activation record not stored yet: trying again"
	if queued {
		why += " while its invocation stays queued"
	}
	iv.log.Warn(why, "activation_id", inv.ActivationID, "err", err)
	for deadline := time.Now().Add(recordRoomWait); time.Now().Before(deadline); {
		if !backoff.Wait(ctx, 2*time.Second) {
			return err
		}
		if iv.space != nil && iv.space() != nil {
			continue
		}
		if err = stored.Wait(ctx); err == nil || !retryableStore(err) {
			if err == nil {
				iv.log.Info("activation record stored at a later try", "activation_id", inv.ActivationID)
			}
			return err
		}
	}
	return err
}

// handle runs one invocation, in lease's container if it holds one,
// announces its record and hands it to the store; stored waits until the
// store has it. The announcement goes first:
// it carries the whole record, so a blocking caller need not wait for the
// store (as in OpenWhisk, where blocking calls are answered from the
// invoker's completion message).
func (iv *Invoker) handle(ctx context.Context, inv *actions.Invocation, lease *Lease) (stored *actions.Pending) {
	var observed func(*actions.Activation)
	if iv.opts.Observer != nil {
		inv.TraceParent, observed = iv.opts.Observer.Taken(ctx, inv)
	}
	rec := iv.activate(ctx, inv, lease)
	release(ctx, iv.opts.Slots, inv, iv.log)
	if observed != nil {
		observed(rec)
	}
	// A caller waiting in this process gets the record before it is
	// encoded, which it need not wait for.
	handed := iv.opts.Local != nil && iv.opts.Local.Deliver(inv.ActivationID, rec)
	b, err := rec.MarshalJSON() // not json.Marshal, which would check and compact it again
	if err != nil {
		return actions.Settled(fmt.Errorf("encode activation: %w", err))
	}
	// A record too large for one NATS message is announced once stored,
	// without its body: the caller reads it from the store.
	whole := int64(len(b)) <= iv.nc.MaxPayload()-announceHeadroom
	if !handed && whole {
		iv.announce(inv.ActivationID, b)
	}
	// The parameters are kept for `gust activation rerun` (hub.RerunParams
	// says what is kept): with the record when they are small, else apart.
	// Parameters by reference (over 768 KB) are more than is kept.
	keepApart := false
	if inv.PayloadRef == "" {
		var kept bool
		stored, kept = iv.rec.PutAsyncKeeping(ctx, rec, b, inv.Payload)
		keepApart = !kept
	} else {
		stored = iv.rec.PutAsync(ctx, rec, b)
	}
	if keepApart {
		if _, err := iv.params.Keep(ctx, inv.Namespace, inv.ActivationID, inv.Payload); err != nil {
			iv.log.Warn("parameters not kept for a rerun", "activation_id", inv.ActivationID, "err", err)
		}
	}
	if !handed && !whole {
		err := stored.Wait(ctx)
		iv.announce(inv.ActivationID, nil)
		return actions.NewPending(err, stored.Wait)
	}
	return stored
}

// announceHeadroom is what a NATS message needs beside its body.
const announceHeadroom = 4 << 10

// announce publishes activation id's completion: its record, or nil for
// one that is too large for a message and is to be read from the store.
func (iv *Invoker) announce(id string, b []byte) {
	if err := iv.nc.Publish(hub.DoneSubject(id), b); err != nil {
		iv.log.Warn("announce activation", "activation_id", id, "err", err)
	}
}
