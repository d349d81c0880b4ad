package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/throttle"
	"github.com/gusthub/gust/rules"
)

// Activator runs invocations (*dispatch.Dispatcher).
type Activator interface {
	// Queue queues inv as a write of batch b: the invocations of a batch
	// of events are stored together with their records, and confirmed
	// together; stored, called after b's Wait, says whether inv was.
	Queue(ctx context.Context, b *hub.Batch, inv *actions.Invocation) (stored func() error, err error)
	// Activate runs inv and waits up to wait for its record (a rule's
	// delivery policy waits for each attempt).
	Activate(ctx context.Context, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error)
}

// LocalRunner is an Activator that can also run an invocation on the
// invoker of this process, where its action has a container warm, instead
// of queuing it (*dispatch.Dispatcher, dispatch.Dispatcher.Reserve): start
// and cancel are nil when it takes none.
type LocalRunner interface {
	Reserve(ctx context.Context, inv *actions.Invocation) (start func(stored func(error)), cancel func())
}

// recordReader tells whether a record is stored (*actions.ActivationStore):
// a redelivered event runs no rule whose activation is recorded already.
type recordReader interface {
	Has(ctx context.Context, ns, id string) (bool, error)
}

// RecordStore keeps activation records (*actions.ActivationStore).
type RecordStore interface {
	// PutIn stores a as a write of batch b, with the batch's
	// invocations; stored, called after b's Wait, says whether it was.
	PutIn(b *hub.Batch, a *actions.Activation, enc []byte) (stored func(context.Context) error)
	// Put stores a at once.
	Put(ctx context.Context, a *actions.Activation) error
}

// TriggerReader reads triggers.
type TriggerReader interface {
	GetTrigger(ctx context.Context, n actions.Name) (*rules.Trigger, uint64, error)
}

// Engine turns trigger events into invocations: it consumes the hub's event
// stream durably and, for every active rule of the event's trigger whose
// filter (if any) matches the event, invokes the rule's action with the
// trigger's parameters and the event's data, then records the trigger's
// activation with one log line per rule. Filters are read from the
// trigger's links and compiled once. The actions act for whoever fired the
// event: an event fired through the API carries the caller's key
// (hub.HeaderAPIKey), which the invocations pass on as __OW_API_KEY to
// actions annotated provide-api-key; feed events carry none.
type Engine struct {
	js        jetstream.JetStream
	triggers  TriggerReader
	actions   actions.Getter
	activator Activator
	records   RecordStore
	log       *slog.Logger
	filters   filterCache

	// deliveries runs rules with a delivery policy (engine_delivery.go);
	// sleep waits between their attempts.
	deliveries *deliveries
	sleep      func(ctx context.Context, d time.Duration) error

	// mirrors, while Run follows the stores, keep triggers and actions in
	// memory (engine_cache.go); shared, if set, already mirrors the
	// actions and packages (ShareMirrors).
	mirrors *mirrors
	shared  *actions.Cache

	// eventIDs remembers the events taken, for dedupWindow or the
	// trigger's DedupWindowAnnotation; Run opens it.
	eventIDs    *hub.EventIDs
	dedupWindow time.Duration

	// running are the rules' activations that run here (runHere).
	running runsHere

	// observer, if set, is told of every event (SetObserver).
	observer Observer

	// heard, if set, tells whether an outcome would reach a subscriber
	// (SkipUnheardOutcomes).
	heard func(subject string) bool

	// throttle, if set, counts feed events against firesPerMinute
	// (SetThrottle); throttled remembers when events it held back were
	// first held back, for their records.
	throttle  Throttle
	throttled throttledSince
	now       func() time.Time // the throttle's minutes are by this clock
}

// Throttle counts fires against a namespace's firesPerMinute and the
// rules' invocations against its invocationsPerMinute and
// concurrentInvocations (*throttle.Throttle), with a *throttle.RateError or
// *throttle.ConcurrencyError over a limit.
type Throttle interface {
	Allow(ctx context.Context, r throttle.Rate, ns string) error
	Admit(ctx context.Context, ns string, slot bool) (held bool, err error)
	Release(ctx context.Context, ns string) error
}

// SetThrottle makes the engine count the events of feeds (those not fired
// through the API, which counts them itself) against their namespace's
// firesPerMinute: an event over the limit is not dropped but waits on the
// stream for the next minute, and its trigger's record, once it runs, has
// the annotation "throttled" with the milliseconds it waited.
//
// The invocations that rules start count against the namespace's
// invocationsPerMinute and concurrentInvocations, as an invoke through the
// API does: as in OpenWhisk, a rule over a limit does not run, and its line
// in the trigger's record has status 429 and the throttle's message. A
// rule under a delivery policy counts against the rate only: its attempts
// are separate invocations that the concurrency count cannot follow.
// Call it before Run.
func (e *Engine) SetThrottle(t Throttle) *Engine {
	e.throttle = t
	return e
}

// throttledSince remembers, by trigger activation id, when this process
// first held an event back. Another process that takes the event later
// does not know, and its record says how long it waited in its own hands
// only; that is the price of keeping no shared state for it.
type throttledSince struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// maxThrottled bounds throttledSince; it starts over when full.
const maxThrottled = 100000

func (ts *throttledSince) hold(id string, now time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil || len(ts.m) >= maxThrottled {
		ts.m = map[string]time.Time{}
	}
	if _, ok := ts.m[id]; !ok {
		ts.m[id] = now
	}
}

// release forgets id and returns when it was first held back.
func (ts *throttledSince) release(id string) (time.Time, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.m[id]
	delete(ts.m, id)
	return t, ok
}

// throttledError is an event held back by its namespace's firesPerMinute:
// it goes back to the stream for after delay.
type throttledError struct {
	delay time.Duration
	err   error
}

func (e *throttledError) Error() string { return "fire throttled: " + e.err.Error() }
func (e *throttledError) Unwrap() error { return e.err }

// untilNextMinute is how long a throttled event waits: to the next minute,
// when the namespace's count starts over, and up to 2 s more, so that the
// events held back do not all come back at once.
func untilNextMinute(now time.Time) time.Duration {
	next := now.Truncate(time.Minute).Add(time.Minute)
	return next.Sub(now) + time.Duration(rand.Int64N(int64(2*time.Second)))
}

const engineConsumer = hub.RulesConsumer

// The engine takes events in batches of up to engineBatch, and processes
// engineBatches batches at once: a batch pays once for what its events
// share (the revision barrier of the mirrors, the round trips of its
// writes, stored together). One at a time, so that while a batch waits for
// its writes the events behind it gather into the next: under load the
// batches grow, and an engine-only measure spent 15-20% less CPU per event
// than with 2 or 4 batches at once, which take the events as they come, one
// or two at a time. OpenWhisk does not order a trigger's activations, so
// neither are events; each is acknowledged once its own writes are stored.
const (
	engineBatch   = 64
	engineBatches = 1
)

// New returns an engine; Run starts it.
func New(js jetstream.JetStream, triggers TriggerReader, acts actions.Getter, activator Activator, records RecordStore, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{js: js, triggers: triggers, actions: acts, activator: activator, records: records, log: log,
		deliveries: newDeliveries(), sleep: sleep, dedupWindow: hub.DefaultDedupWindow, now: time.Now}
}

// SetDedupWindow sets how long the ids of events are remembered, so that a
// redelivery of an event within it runs nothing, for triggers without
// DedupWindowAnnotation (default hub.DefaultDedupWindow). Call it before
// Run.
func (e *Engine) SetDedupWindow(d time.Duration) *Engine {
	e.dedupWindow = min(max(d, hub.MinDedupWindow), hub.MaxDedupWindow)
	return e
}

// SkipUnheardOutcomes makes the engine publish an event's outcome only
// when heard says a subscriber would get it (hub.Hub.Heard): mostly
// nobody but a tail of the trigger's events listens, and encoding and
// routing an outcome cost a few percent of an event's CPU. Call it before
// Run.
func (e *Engine) SkipUnheardOutcomes(heard func(subject string) bool) *Engine {
	e.heard = heard
	return e
}

// ShareMirrors makes the engine read actions and packages through c's
// mirrors, which must mirror the engine's action store, instead of
// watching those buckets itself. Call it before Run.
func (e *Engine) ShareMirrors(c *actions.Cache) *Engine {
	e.shared = c
	return e
}

// Run consumes events until ctx ends. An event is acknowledged only after
// its rules' invocations are queued (or, run here, recorded) and its record
// is stored, so an event is not lost when Gust stops mid-stream; a
// redelivered event does not run a rule's action twice, because each
// invocation's id is derived from the event and the rule, the work queue
// drops duplicates, and a rule recorded already is not run again.
//
// Events are processed in batches (engineBatch), in no particular order. Rules with a delivery policy (Delivery) run in the background;
// Run returns once the events being processed are done and those
// deliveries have finished or been abandoned (see Engine.deliver).
func (e *Engine) Run(ctx context.Context) error {
	defer e.deliveries.stop()
	wctx, stopWatches := context.WithCancel(ctx)
	waitWatches := e.watchStores(wctx)
	defer func() { stopWatches(); waitWatches() }()
	st, err := hub.BindEvents(ctx, e.js) // provisioned by serve (hub.OpenEvents)
	if err != nil {
		return err
	}
	if e.eventIDs, err = hub.BindEventIDs(ctx, e.js); err != nil {
		return err
	}
	// An engine that starts while its cluster elects leaders waits for
	// them (CI: a controller restarted mid-load stopped Gust otherwise).
	cons, err := hub.OpenConsumer(ctx, st, jetstream.ConsumerConfig{
		Durable:       engineConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       eventAckWait,
		MaxAckPending: 1000,
	}, e.log)
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2*engineBatch), jetstream.PullExpiry(hub.PullExpiryFor(e.js.Conn())))
	if err != nil {
		return fmt.Errorf("consume %s: %w", hub.EventsStream, err)
	}
	// A dead consumer is an error: nothing more will come, and serve says so.
	return hub.ConsumeBatches(ctx, it, engineBatch, engineBatches, hub.EventsStream+" with "+engineConsumer, e.log, e.handleBatch)
}

// filterCache holds compiled filters by their JSON text, so that each
// distinct filter is compiled once, not once per event.
type filterCache struct {
	mu sync.Mutex
	m  map[string]filterEntry
}

type filterEntry struct {
	f   rules.Filter
	err error
}

// maxCachedFilters bounds the cache; when full it starts over.
const maxCachedFilters = 4096

// get returns the compiled filter of raw; an absent filter matches all.
func (c *filterCache) get(raw json.RawMessage) (rules.Filter, error) {
	if len(raw) == 0 {
		return rules.Filter{}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if en, ok := c.m[string(raw)]; ok {
		return en.f, en.err
	}
	f, err := rules.ParseFilter(raw)
	if c.m == nil || len(c.m) >= maxCachedFilters {
		c.m = make(map[string]filterEntry)
	}
	c.m[string(raw)] = filterEntry{f: f, err: err}
	return f, err
}

// ruleResult is one log line of a trigger activation, OpenWhisk's shape.
type ruleResult struct {
	StatusCode   int    `json:"statusCode"`
	Success      bool   `json:"success"`
	ActivationID string `json:"activationId,omitempty"`
	Rule         string `json:"rule"`
	Action       string `json:"action"`
	Error        string `json:"error,omitempty"`
	// outcome is the rule's Verdict.Outcome, and policy whether the rule
	// runs under a delivery policy; they are not logged.
	outcome string
	policy  bool
}

// handleBatch processes a batch of events, each as handle did one: take
// (is it an event to process?), plan (what each rule of its trigger does
// with it), dispatch (queue the invocations of the rules that run, or
// reserve them here), record (the trigger's activation, then the outcome).
// The batch reads its triggers and actions through one revision barrier,
// stores the claims of its events together, then the invocations and
// records of all of them together. Each event is acknowledged once all of
// its own writes are stored, and the records of its rules run here
// (runHere); an event that failed is handed back for redelivery, which
// derives the same ids, so nothing runs twice.
func (e *Engine) handleBatch(ctx context.Context, msgs []jetstream.Msg) {
	lk := e.lookups(ctx)
	fs := make([]firing, len(msgs))
	claims := hub.NewBatch(e.js)
	for i, msg := range msgs {
		fs[i].msg = msg
		fs[i].err = e.take(ctx, lk, &fs[i], claims)
	}
	if claims.Len() > 0 {
		_ = claims.Wait(ctx) // each claim's outcome is its own (claimed)
	}
	for i := range fs {
		if f := &fs[i]; f.err == nil && !f.drop {
			f.err = e.claimed(ctx, f)
		}
	}
	writes := hub.NewBatch(e.js)
	for i := range fs {
		if f := &fs[i]; f.err == nil && !f.drop {
			f.err = e.start(ctx, f, writes)
		}
	}
	if writes.Len() > 0 {
		_ = writes.Wait(ctx) // each event's writes say how they went (f.writes)
	}
	for i := range fs {
		f := &fs[i]
		for _, stored := range f.writes {
			if err := stored(ctx); err != nil && f.err == nil {
				f.err = err
			}
		}
		e.finish(f)
	}
}

// start plans, dispatches and records f, its writes made in writes and
// their outcomes left in f.writes, to read once writes are stored.
func (e *Engine) start(ctx context.Context, f *firing, writes *hub.Batch) error {
	if e.observer != nil {
		f.traceparent, f.observed = e.observer.Event(ctx, f.ns, f.t.Name, f.traceparent)
	}
	if ok, err := e.plan(ctx, f); !ok || err != nil {
		f.drop = err == nil
		return err
	}
	f.handled = make(chan struct{})
	queued, err := e.dispatch(ctx, f, &f.results, writes)
	if err != nil {
		return err
	}
	return e.record(ctx, f, f.results, queued, writes)
}

// finish ends f's turn once its writes are stored (or failed): its outcome
// published, the rules reserved here started (or, when it failed, given
// back), and the event acknowledged, held back (throttled) or handed back
// for redelivery; with rules run here, once their records are stored.
func (e *Engine) finish(f *firing) {
	msg, err := f.msg, f.err
	if err != nil {
		e.giveBack(f.here)
		f.here = nil
	}
	if err == nil && f.outcome {
		e.publishOutcome(f.ns, f.t.Name, f.triggerID, f.ev, f.results)
	}
	if f.handled != nil {
		close(f.handled)
	}
	if f.observed != nil {
		f.observed(outcomesOf(f.results), err)
	}
	if len(f.here) > 0 {
		e.runHere(msg, f.here)
		return
	}
	e.settle(msg, err)
}

// settle acknowledges msg, holds it back (throttled) or hands it back for
// redelivery, as err says.
func (e *Engine) settle(msg jetstream.Msg, err error) {
	var held *throttledError
	switch {
	case errors.As(err, &held):
		e.log.Debug("feed event over firesPerMinute waits", "subject", msg.Subject(), "delay", held.delay)
		_ = msg.NakWithDelay(held.delay)
	case err != nil:
		e.log.Error("trigger event not processed; it will be redelivered", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(time.Second)
	default:
		_ = msg.Ack()
	}
}

// eventAckWait is how long JetStream waits for the engine to acknowledge
// an event before it delivers it again; while rules of the event run
// here, the engine tells it every third of that that it works on it (a
// variable for tests).
var eventAckWait = 30 * time.Second

// runHere starts the activations reserved here for msg's rules, and
// acknowledges msg once each has ended: its record stored, or lost for
// good (logged by the invoker, as for a queued invocation that is then
// acknowledged), or, not started because the invoker stops, queued
// instead. Only a failure to queue one hands msg back, whose redelivery
// runs again only the rules whose records are missing (dispatch).
// Meanwhile JetStream is told that msg is worked on, also after the
// engine stopped: its runs end when the invoker stops, and another
// engine must not take msg again while they run.
func (e *Engine) runHere(msg jetstream.Msg, here []reserved) {
	var mu sync.Mutex
	left, failed := len(here), error(nil)
	beat := hub.StartHeartbeat(msg, eventAckWait/3)
	for _, r := range here {
		run := r.run
		if run == nil {
			run = e.running.begin(r.inv.ActivationID)
		}
		r.start(func(err error) {
			if r.run == nil { // its own run, not one of an earlier delivery that it waits for
				if errors.Is(err, actions.ErrNotStarted) {
					err = e.queueInstead(r.inv)
				} else {
					err = nil // stored, or lost for good
				}
				e.running.end(r.inv.ActivationID, run, err) // what a redelivery that waits for it gets
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && failed == nil {
				failed = err
			}
			if left--; left == 0 {
				beat.Stop()
				e.settle(msg, failed)
			}
		})
	}
}

// queueInstead queues inv, reserved here and given up before it started
// (the invoker stops), so that its event need not come again; the queue
// drops it if a redelivery of the event queued it too. Its slot, if it
// holds one, goes with it, or back when it cannot be queued.
func (e *Engine) queueInstead(inv *actions.Invocation) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.activator.Activate(ctx, inv, 0); err != nil {
		e.release(context.Background(), inv)
		return fmt.Errorf("queue activation %s, given up here: %w", inv.ActivationID, err)
	}
	return nil
}

// runsHere are the rules' activations that run in this process, by id,
// so that a redelivery of their event while they run waits for them
// instead of running them again, and ends as they did: acknowledged, or
// handed back when the run, given up, could not be queued.
type runsHere struct {
	mu sync.Mutex
	m  map[string]*hereRun
}

// hereRun is one of runsHere: done is closed when it ended, with err,
// non-nil when it was given up and could not be queued instead.
type hereRun struct {
	done chan struct{}
	err  error
}

func (rs *runsHere) begin(id string) *hereRun {
	r := &hereRun{done: make(chan struct{})}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.m == nil {
		rs.m = map[string]*hereRun{}
	}
	rs.m[id] = r
	return r
}

func (rs *runsHere) end(id string, r *hereRun, err error) {
	rs.mu.Lock()
	if rs.m[id] == r {
		delete(rs.m, id)
	}
	rs.mu.Unlock()
	r.err = err
	close(r.done)
}

func (rs *runsHere) get(id string) *hereRun {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.m[id]
}

// waitFor is a reservation of an activation that runs here already, for
// a redelivery of its event: it ends when that run does.
func waitFor(inv *actions.Invocation, run *hereRun) reserved {
	return reserved{inv: inv, run: run, cancel: func() {}, start: func(stored func(error)) {
		go func() {
			<-run.done
			stored(run.err)
		}()
	}}
}

// giveBack cancels reservations that will not run, with their
// concurrency slots (one that waits for a run of another took none).
func (e *Engine) giveBack(here []reserved) {
	for _, r := range here {
		r.cancel()
		if r.run == nil {
			e.release(context.Background(), r.inv)
		}
	}
}

// release gives back inv's concurrency slot, if it holds one.
func (e *Engine) release(ctx context.Context, inv *actions.Invocation) {
	if !inv.Slot {
		return
	}
	if err := e.throttle.Release(ctx, inv.Namespace); err != nil {
		e.log.Warn("release concurrency slot", "activation_id", inv.ActivationID, "err", err)
	}
}

// reserved is a rule's activation that runs in this process once its
// event's writes are stored (LocalRunner), or, with run, one that runs
// here already (waitFor).
type reserved struct {
	inv    *actions.Invocation
	start  func(stored func(error))
	cancel func()
	run    *hereRun
}

// firing is one event on its way through handleBatch.
type firing struct {
	msg jetstream.Msg
	// err, once set, hands the event back (or holds it, throttledError);
	// drop acknowledges it with nothing more done.
	err  error
	drop bool

	lk       lookups // what the event reads triggers and actions from
	ns       string
	t        *rules.Trigger
	ev       event.Event
	storedAt time.Time // when Gust stored the event
	fromAPI  bool      // fired through the API, whose caller has triggerID
	// throttled is how long the event waited over firesPerMinute.
	throttled time.Duration

	triggerID, subject, apiKey, traceparent string

	// replayOf, for a replayed event (hub.HeaderReplayOf), is the
	// original's trigger activation; replayRule limits it to one rule.
	replayOf, replayRule string

	// Set by plan.
	payload map[string]json.RawMessage // the event's data as parameters
	args    json.RawMessage            // the invocations' parameters
	hops    int
	steps   []step // one per rule, by name
	// handled is closed when the event is finished: the outcome is
	// published (or never will be), so deliveries may publish their
	// followups.
	handled chan struct{}

	// Set by take for claimed; redelivered, whether JetStream delivered
	// the event before.
	claim       *hub.Claiming
	redelivered bool
	// here are the rules' activations reserved in this process, started
	// by finish (runHere).
	here []reserved
	// Set by start and record: results, one per rule; writes, the
	// event's, to wait for; outcome, whether to publish the outcome once
	// they are stored; observed, the observer's end of the event.
	results  []ruleResult
	writes   []func(context.Context) error
	outcome  bool
	observed func([]string, error)
}

// step is what one rule does with an event: inv to queue (through its
// delivery policy when it has one), or res says why not.
type step struct {
	res      ruleResult
	active   bool // counts as a rule that ran, for whether to record
	inv      *actions.Invocation
	delivery *rules.Delivery
}

// take decodes f.msg and reads its trigger through lk, and starts the
// claim of the event against its duplicate window in claims, which
// claimed reads once claims are stored. It sets f.drop to drop the event.
func (e *Engine) take(ctx context.Context, lk lookups, f *firing, claims *hub.Batch) error {
	msg := f.msg
	ns, tname, ok := hub.ParseEventSubject(msg.Subject())
	if !ok {
		e.log.Warn("event on an unknown subject dropped", "subject", msg.Subject())
		f.drop = true
		return nil
	}
	ev, err := hub.DecodeEvent(msg.Headers(), msg.Data())
	if err != nil {
		e.log.Warn("undecodable event dropped", "subject", msg.Subject(), "err", err)
		f.drop = true
		return nil
	}
	t, _, err := lk.triggers.GetTrigger(ctx, actions.Name{Namespace: ns, Name: tname})
	if errors.Is(err, hub.ErrNotFound) {
		e.log.Info("event for a deleted trigger dropped", "trigger", ns+"/"+tname)
		f.drop = true
		return nil
	}
	if err != nil {
		return err
	}
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("event metadata: %w", err)
	}
	h := msg.Headers()
	f.lk, f.ns, f.t, f.ev, f.storedAt, f.fromAPI = lk, ns, t, ev, meta.Timestamp, h.Get(hub.HeaderActivationID) != ""
	f.redelivered = meta.NumDelivered > 1
	f.triggerID, f.subject, f.apiKey, f.traceparent = h.Get(hub.HeaderActivationID), h.Get(hub.HeaderSubject),
		h.Get(hub.HeaderAPIKey), hub.TraceParent(ev) // the key is set by API fires only
	if !actions.IsActivationID(f.triggerID) {
		f.triggerID = hub.MessageActivationID(ns, tname, ev.Source(), ev.ID(), meta.Sequence.Stream, meta.Timestamp)
	}
	if f.subject == "" {
		f.subject = ns
	}
	if f.replayOf = h.Get(hub.HeaderReplayOf); f.replayOf != "" && f.fromAPI {
		// Taken again on purpose: the duplicate window, which would drop
		// it, is not consulted (nor told), and the record says so.
		f.replayRule = h.Get(hub.HeaderReplayRule)
		return nil
	}
	if ev.Type() != hub.PlainFireType || ev.ID() != f.triggerID { // a plain fire's id is its new activation's
		window, ok, _ := t.DedupWindow()
		if !ok {
			window = e.dedupWindow
		}
		f.claim = e.eventIDs.ClaimIn(claims, hub.EventKey(ns, tname, ev.Source(), ev.ID()), f.triggerID, window)
	}
	return nil
}

// claimed reads the answer to f's claim, if take started one: a duplicate
// is dropped (recorded, when fired through the API). Then it counts a feed
// event against its namespace's firesPerMinute.
func (e *Engine) claimed(ctx context.Context, f *firing) error {
	if f.claim != nil {
		first, err := f.claim.Result(ctx)
		if err != nil {
			return err
		}
		if !first {
			ev := f.ev
			e.log.Info("duplicate event dropped", "trigger", f.ns+"/"+f.t.Name, "source", ev.Source(), "id", ev.ID())
			f.drop = true
			if f.fromAPI {
				// Fired through the API, whose caller was told this id
				// (the API answers with the original's id when it knows
				// it is a duplicate; it did not, as the original was
				// not taken yet): record why nothing ran.
				return e.recordDuplicate(ctx, f)
			}
			return nil
		}
	}
	if e.throttle != nil && !f.fromAPI {
		if err := e.throttle.Allow(ctx, throttle.Fires, f.ns); err != nil {
			var over *throttle.RateError
			if !errors.As(err, &over) {
				return err
			}
			now := e.now()
			e.throttled.hold(f.triggerID, now)
			return &throttledError{delay: untilNextMinute(now), err: err}
		}
		if since, ok := e.throttled.release(f.triggerID); ok {
			f.throttled = e.now().Sub(since)
		}
	}
	return nil
}

// plan builds the event's parameters and decides, for each rule of its
// trigger by name, whether it runs: inactive, over the hop limit, filtered
// out, its action gone or the parameters too large, or an invocation to
// queue. It reports false when the event is to be dropped.
func (e *Engine) plan(ctx context.Context, f *firing) (bool, error) {
	if err := hub.ResolveData(ctx, e.js, &f.ev); err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			e.log.Warn("event dropped: its offloaded data is gone", "trigger", f.ns+"/"+f.t.Name, "id", f.ev.ID(), "err", err)
			return false, nil
		}
		return false, err
	}
	ev := f.ev
	f.payload = hub.DataParameters(ev.DataContentType(), ev.Data())
	params := f.t.Parameters.Object()
	for k, v := range f.payload {
		params[k] = v
	}
	if ev.Type() != hub.PlainFireType {
		params[rules.EventParameter] = eventAttributes(ev)
	}
	f.args, _ = json.Marshal(params)
	hops, hopErr := e.checkHops(f.ns, f.t.Name, ev)
	f.hops = hops
	const maxArgs = actions.MaxInvocationBytes

	names := make([]string, 0, len(f.t.Rules))
	for name := range f.t.Rules {
		if f.replayRule == "" || name == f.replayRule {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	f.steps = make([]step, 0, len(names))
	for _, rname := range names {
		link := f.t.Rules[rname]
		st := step{res: ruleResult{Rule: rname, Action: link.Action.Path + "/" + link.Action.Name}}
		res := &st.res
		flt, ferr := e.filters.get(link.Filter)
		switch {
		case link.Status != rules.StatusActive:
			res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
				fmt.Sprintf("Rule '%s' is inactive, action '%s' was not activated.", rname, res.Action), rules.OutcomeInactive
		case hopErr != nil:
			st.active = true // recorded, even for an event that did not come through the API
			res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
				fmt.Sprintf("%v Rule '%s' did not activate action '%s'.", hopErr, rname, res.Action), rules.OutcomeFailed
		case ferr != nil:
			res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
				fmt.Sprintf("Rule '%s' has an %v, action '%s' was not activated.", rname, ferr, res.Action), rules.OutcomeFailed
		case !flt.Match(ev):
			res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
				fmt.Sprintf("Rule '%s' filtered out the event, action '%s' was not activated.", rname, res.Action), rules.OutcomeFiltered
		default:
			st.active = true
			a, err := actions.Resolve(ctx, f.lk.actions, link.Action.FullName(), f.ns, false)
			switch {
			case errors.Is(err, hub.ErrNotFound), errors.Is(err, actions.ErrForbidden):
				res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError, "The requested resource does not exist.", rules.OutcomeFailed
			case err != nil:
				return false, err
			case int64(len(f.args)) > maxArgs:
				// The event is stored (its data offloaded), but its
				// parameters are more than an action takes: say so,
				// instead of retrying for ever. Smaller ones too large
				// for a message travel by reference (Dispatcher.encode).
				res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
					fmt.Sprintf("The event's parameters (%d bytes) are larger than an invocation may carry (%d bytes); action '%s' was not activated.",
						len(f.args), maxArgs, res.Action), rules.OutcomeFailed
			default:
				st.inv = &actions.Invocation{
					ActivationID: derivedID(f.triggerID, rname), Namespace: f.ns, Subject: f.subject,
					Action: *a, Payload: f.args, APIKey: f.apiKey, Submitted: time.Now().UnixMilli(), Cause: f.triggerID,
					TraceParent: f.traceparent,
				}
				st.delivery = link.Delivery
			}
		}
		f.steps = append(f.steps, st)
	}
	return true, nil
}

// dispatch queues the planned invocations (or starts their deliveries),
// appending each rule's result to results as it goes, and returns the
// waits for the invocations queued without waiting.
func (e *Engine) dispatch(ctx context.Context, f *firing, results *[]ruleResult, writes *hub.Batch) ([]func(context.Context) error, error) {
	var queued []func(context.Context) error
	var slots []*actions.Invocation // taken and not yet queued: given back when the event is handed back
	defer func() {
		for _, inv := range slots {
			e.release(context.WithoutCancel(ctx), inv)
		}
	}()
	for i := range f.steps {
		st := &f.steps[i]
		if inv := st.inv; inv != nil {
			if st.delivery == nil {
				if taken, err := e.takenBefore(ctx, f, inv); err != nil {
					return nil, err
				} else if taken {
					st.res.Success, st.res.ActivationID, st.res.outcome = true, inv.ActivationID, rules.OutcomeActivated
					*results = append(*results, st.res)
					continue
				}
			}
			if over, err := e.admit(ctx, inv, st.delivery == nil); err != nil {
				return nil, err
			} else if over != nil {
				st.res.StatusCode, st.res.Error, st.res.outcome = http.StatusTooManyRequests, over.Error(), rules.OutcomeFailed
				*results = append(*results, st.res)
				continue
			}
			if inv.Slot {
				slots = append(slots, inv)
			}
			var err error
			switch {
			case st.delivery != nil:
				err = e.startDelivery(ctx, &delivery{policy: *st.delivery, inv: *inv, triggerID: f.triggerID,
					rule: st.res.Rule, action: st.res.Action, ev: f.ev, hops: f.hops, trigger: f.t.Name, handled: f.handled})
			default:
				if r, ok := e.reserve(ctx, f, inv); ok {
					f.here = append(f.here, r)
					break
				}
				var stored func() error
				if stored, err = e.activator.Queue(ctx, writes, inv); err == nil {
					queued = append(queued, func(context.Context) error { return stored() })
				}
			}
			if err != nil {
				return nil, err
			}
			if inv.Slot { // queued or reserved: whoever completes it gives its slot back
				slots = slots[:len(slots)-1]
			}
			st.res.Success, st.res.ActivationID, st.res.outcome = true, inv.ActivationID, rules.OutcomeActivated
			st.res.policy = st.delivery != nil
		}
		*results = append(*results, st.res)
	}
	return queued, nil
}

// takenBefore reports whether an earlier delivery of f's event took inv,
// one of its rules' activations, so that this one starts nothing: inv
// still runs here (f waits for it), or it is recorded already: run here
// (reserve) by an earlier delivery whose acknowledgement was lost (the
// process stopped, say). One queued then need not be looked up, as the
// queue drops a duplicate, but is as cheaply, and this holds past the
// queue's duplicate window too. One that ran here and was not recorded
// (the process died) takes the queue.
func (e *Engine) takenBefore(ctx context.Context, f *firing, inv *actions.Invocation) (bool, error) {
	if run := e.running.get(inv.ActivationID); run != nil { // its event came again while it runs
		f.here = append(f.here, waitFor(inv, run))
		return true, nil
	}
	rr, ok := e.records.(recordReader)
	if !f.redelivered || !ok {
		return false, nil
	}
	ran, err := rr.Has(ctx, inv.Namespace, inv.ActivationID)
	if ran {
		e.log.Info("rule's activation ran before the event's redelivery", "activation_id", inv.ActivationID)
	}
	return ran, err
}

// reserve takes inv, when the activator runs invocations in this process
// too (LocalRunner), to run there once the event's writes are stored,
// instead of taking the queue: on a container of its action warm there,
// free now or busy (dispatch.Dispatcher.Reserve says when). That saves the
// queue's write, its delivery and its acknowledgement; the event,
// acknowledged only once inv's record is stored, is what survives a crash
// meanwhile, as the queued invocation does otherwise. A redelivered event
// takes the queue: an earlier delivery may have queued inv, and only the
// queue drops the duplicate.
func (e *Engine) reserve(ctx context.Context, f *firing, inv *actions.Invocation) (reserved, bool) {
	lr, ok := e.activator.(LocalRunner)
	if !ok || f.redelivered {
		return reserved{}, false
	}
	start, cancel := lr.Reserve(ctx, inv)
	if start == nil {
		return reserved{}, false
	}
	return reserved{inv: inv, start: start, cancel: cancel}, true
}

// admit counts inv against its namespace's invocationsPerMinute and, with
// slot, takes one of its concurrentInvocations slots for it (inv.Slot).
// over is the throttle's answer when a limit is reached; err is a failure
// to count, which hands the event back.
func (e *Engine) admit(ctx context.Context, inv *actions.Invocation, slot bool) (over, err error) {
	if e.throttle == nil {
		return nil, nil
	}
	var limited interface{ HTTPStatus() int }
	inv.Slot, err = e.throttle.Admit(ctx, inv.Namespace, slot)
	if errors.As(err, &limited) {
		return err, nil
	}
	return nil, err
}

// record starts storing the trigger's activation, one log line per rule,
// and leaves it with the invocations queued in f.writes, so that the
// event's outcome is published once all are stored (finish). As in
// OpenWhisk, an event that activated nothing leaves no record, unless it
// came through the API.
func (e *Engine) record(ctx context.Context, f *firing, results []ruleResult, queued []func(context.Context) error, writes *hub.Batch) error {
	active := false
	for _, st := range f.steps {
		active = active || st.active
	}
	if !active && !f.fromAPI {
		// So does a feed event that every active rule filters out. A fire
		// through the API, whose id the caller has, is always recorded.
		f.writes, f.outcome = queued, true
		return nil
	}
	logs := make([]string, len(results))
	for i, res := range results {
		b, _ := json.Marshal(res)
		logs[i] = string(b)
	}
	rec := &actions.Activation{
		Namespace: f.ns, Name: f.t.Name, Version: f.t.Version, Subject: f.subject, ActivationID: f.triggerID,
		Start: f.storedAt.UnixMilli(), Logs: logs, // when Gust stored the event it received; the event's own time stays in __event
		Response:    actions.Response{StatusCode: actions.StatusSuccess, Result: mustJSON(f.payload)},
		Annotations: actions.KeyValues{}.Set("path", f.ns+"/"+f.t.Name),
	}
	if f.traceparent != "" {
		rec.Annotations = rec.Annotations.Set("traceparent", f.traceparent)
	}
	if f.replayOf != "" {
		rec.Cause = f.replayOf
		rec.Annotations = rec.Annotations.Set("replayOf", f.replayOf)
	}
	if f.throttled > 0 {
		rec.Annotations = rec.Annotations.Set("throttled", f.throttled.Milliseconds())
	}
	// The record and the invocations are written at once and confirmed
	// together, with those of the other events of the batch: the event is
	// acknowledged only once all of them are stored.
	queued = append(queued, e.records.PutIn(writes, rec, nil))
	f.writes, f.outcome = queued, true
	return nil
}

// recordDuplicate records the trigger activation triggerID of a fire
// through the API that repeats an event the engine already took: it ran no
// rule, and its log line names the original's activation.
func (e *Engine) recordDuplicate(ctx context.Context, f *firing) error {
	owner, _, err := e.eventIDs.Owner(ctx, hub.EventKey(f.ns, f.t.Name, f.ev.Source(), f.ev.ID()))
	if err != nil {
		return err
	}
	line := mustJSON(map[string]string{"duplicateOf": owner,
		"error": fmt.Sprintf("The event (source %s, id %s) was received before, as trigger activation %s; no rule ran again.", f.ev.Source(), f.ev.ID(), owner)})
	return e.records.Put(ctx, &actions.Activation{
		Namespace: f.ns, Name: f.t.Name, Version: f.t.Version, Subject: f.subject, ActivationID: f.triggerID,
		Start: f.storedAt.UnixMilli(), Logs: []string{string(line)},
		Response:    actions.Response{StatusCode: actions.StatusSuccess, Result: mustJSON(map[string]string{"duplicateOf": owner})},
		Annotations: actions.KeyValues{}.Set("path", f.ns+"/"+f.t.Name),
	})
}

// eventAttributes is the JSON object of an event's context attributes.
func eventAttributes(ev event.Event) json.RawMessage {
	m := map[string]any{"id": ev.ID(), "source": ev.Source(), "type": ev.Type(), "specversion": ev.SpecVersion()}
	if !ev.Time().IsZero() {
		m["time"] = ev.Time().UTC().Format(time.RFC3339Nano)
	}
	for k, v := range map[string]string{"subject": ev.Subject(), "datacontenttype": ev.DataContentType(), "dataschema": ev.DataSchema()} {
		if v != "" {
			m[k] = v
		}
	}
	for k, v := range ev.Extensions() {
		m[k] = v
	}
	return mustJSON(m)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// derivedID is rules.DerivedID.
func derivedID(parts ...string) string { return rules.DerivedID(parts...) }
