package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

// Activator queues an invocation without waiting for it.
type Activator interface {
	Activate(ctx context.Context, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error)
}

// queuer is an Activator that can queue an invocation without waiting
// for it to be stored (invoker.Dispatcher): an event's invocations are then
// queued at once and waited for together.
type queuer interface {
	Queue(ctx context.Context, inv *actions.Invocation) (stored func(context.Context) error, err error)
}

// RecordStore keeps activation records.
type RecordStore interface {
	Put(ctx context.Context, a *actions.Activation) error
}

// asyncRecordStore is a RecordStore that can store a record without
// waiting for it (actions.ActivationStore): an event's record and its
// invocations are then written together and confirmed together.
type asyncRecordStore interface {
	PutAsync(ctx context.Context, a *actions.Activation, b []byte) (stored func(context.Context) error)
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

	// observer, if set, is told of every event (SetObserver).
	observer Observer
}

const engineConsumer = hub.RulesConsumer

// engineWorkers bounds the events the engine processes at once. OpenWhisk
// does not order a trigger's activations, so events are processed
// concurrently; each is acknowledged once its own work is done.
const engineWorkers = 32

// New returns an engine; Run starts it.
func New(js jetstream.JetStream, triggers TriggerReader, acts actions.Getter, activator Activator, records RecordStore, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{js: js, triggers: triggers, actions: acts, activator: activator, records: records, log: log,
		deliveries: newDeliveries(), sleep: sleep, dedupWindow: hub.DefaultDedupWindow}
}

// SetDedupWindow sets how long the ids of events are remembered, so that a
// redelivery of an event within it runs nothing, for triggers without
// DedupWindowAnnotation (default hub.DefaultDedupWindow). Call it before
// Run.
func (e *Engine) SetDedupWindow(d time.Duration) *Engine {
	e.dedupWindow = min(max(d, hub.MinDedupWindow), hub.MaxDedupWindow)
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
// its rules' invocations are queued and its record is stored, so an event is
// not lost when Gust stops mid-stream; a redelivered event does not run a
// rule's action twice, because each invocation's id is derived from the
// event and the rule and the work queue drops duplicates.
//
// Up to engineWorkers events are processed at once, in no particular
// order. Rules with a delivery policy (Delivery) run in the background;
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
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       engineConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 1000,
	})
	if err != nil {
		return fmt.Errorf("open consumer %s: %w", engineConsumer, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", hub.EventsStream, err)
	}
	// A dead consumer is an error: nothing more will come, and serve says so.
	return hub.Consume(ctx, it, engineWorkers, hub.EventsStream+" with "+engineConsumer, e.log, func(ctx context.Context, msg jetstream.Msg) {
		if err := e.handle(ctx, msg); err != nil {
			e.log.Error("trigger event not processed; it will be redelivered", "subject", msg.Subject(), "err", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		_ = msg.Ack()
	})
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
	// outcome is the rule's Verdict.Outcome; it is not logged.
	outcome string
}

func (e *Engine) handle(ctx context.Context, msg jetstream.Msg) (err error) {
	ns, tname, ok := hub.ParseEventSubject(msg.Subject())
	if !ok {
		e.log.Warn("event on an unknown subject dropped", "subject", msg.Subject())
		return nil
	}
	ev, err := hub.DecodeEvent(msg.Headers(), msg.Data())
	if err != nil {
		e.log.Warn("undecodable event dropped", "subject", msg.Subject(), "err", err)
		return nil
	}
	lk := e.lookups(ctx)
	t, _, err := lk.triggers.GetTrigger(ctx, actions.Name{Namespace: ns, Name: tname})
	if errors.Is(err, hub.ErrNotFound) {
		e.log.Info("event for a deleted trigger dropped", "trigger", ns+"/"+tname)
		return nil
	}
	if err != nil {
		return err
	}
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("event metadata: %w", err)
	}
	triggerID := msg.Headers().Get(hub.HeaderActivationID)
	if !actions.IsActivationID(triggerID) {
		triggerID = hub.MessageActivationID(ns, tname, ev.Source(), ev.ID(), meta.Sequence.Stream, meta.Timestamp)
	}
	if ev.Type() != hub.PlainFireType || ev.ID() != triggerID { // a plain fire's id is its new activation's
		window, ok, _ := t.DedupWindow()
		if !ok {
			window = e.dedupWindow
		}
		first, err := e.eventIDs.Claim(ctx, hub.EventKey(ns, tname, ev.Source(), ev.ID()), triggerID, window)
		if err != nil {
			return err
		}
		if !first {
			e.log.Info("duplicate event dropped", "trigger", ns+"/"+tname, "source", ev.Source(), "id", ev.ID(), "window", window)
			if msg.Headers().Get(hub.HeaderActivationID) != "" {
				// Fired through the API, whose caller was told this id
				// (the API answers with the original's id when it knows
				// it is a duplicate; it did not, as the original was
				// not taken yet): record why nothing ran.
				return e.recordDuplicate(ctx, ns, t, triggerID, msg, ev, meta.Timestamp)
			}
			return nil
		}
	}
	traceparent := hub.TraceParent(ev)
	var results []ruleResult // for publishOutcome
	if e.observer != nil {
		var done func([]string, error)
		if traceparent, done = e.observer.Event(ctx, ns, tname, traceparent); done != nil {
			defer func() { done(outcomesOf(results), err) }()
		}
	}
	subject := msg.Headers().Get(hub.HeaderSubject)
	if subject == "" {
		subject = ns
	}
	apiKey := msg.Headers().Get(hub.HeaderAPIKey) // set by API fires only
	if err := hub.ResolveData(ctx, e.js, &ev); err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			e.log.Warn("event dropped: its offloaded data is gone", "trigger", ns+"/"+tname, "id", ev.ID(), "err", err)
			return nil
		}
		return err
	}
	payload := hub.DataParameters(ev.DataContentType(), ev.Data())
	params := t.Parameters.Object()
	for k, v := range payload {
		params[k] = v
	}
	if ev.Type() != hub.PlainFireType {
		params[rules.EventParameter] = eventAttributes(ev)
	}
	args, _ := json.Marshal(params)
	hops, hopErr := e.checkHops(ns, tname, ev)

	names := make([]string, 0, len(t.Rules))
	for name := range t.Rules {
		names = append(names, name)
	}
	sort.Strings(names)
	var logs []string
	var queued []func(context.Context) error
	active := 0
	q, _ := e.activator.(queuer)
	for _, rname := range names {
		link := t.Rules[rname]
		action := link.Action.FullName()
		res := ruleResult{Rule: rname, Action: link.Action.Path + "/" + link.Action.Name}
		f, ferr := e.filters.get(link.Filter)
		switch {
		case link.Status != rules.StatusActive:
			res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
				fmt.Sprintf("Rule '%s' is inactive, action '%s' was not activated.", rname, res.Action), rules.OutcomeInactive
		case hopErr != nil:
			active++ // recorded, even for an event that did not come through the API
			res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
				fmt.Sprintf("%v Rule '%s' did not activate action '%s'.", hopErr, rname, res.Action), rules.OutcomeFailed
		case ferr != nil:
			res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
				fmt.Sprintf("Rule '%s' has an %v, action '%s' was not activated.", rname, ferr, res.Action), rules.OutcomeFailed
		case !f.Match(ev):
			res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
				fmt.Sprintf("Rule '%s' filtered out the event, action '%s' was not activated.", rname, res.Action), rules.OutcomeFiltered
		default:
			active++
			a, err := actions.Resolve(ctx, lk.actions, action, ns, false)
			switch {
			case errors.Is(err, hub.ErrNotFound), errors.Is(err, actions.ErrForbidden):
				res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError, "The requested resource does not exist.", rules.OutcomeFailed
			case err != nil:
				return err
			case int64(len(args)) > e.js.Conn().MaxPayload()-invocationHeadroom:
				// The event is stored (its data offloaded), but an
				// invocation travels as one message: say so, instead of
				// retrying for ever.
				res.StatusCode, res.Error, res.outcome = actions.StatusApplicationError,
					fmt.Sprintf("The event's parameters (%d bytes) are larger than an invocation may carry (%d bytes); action '%s' was not activated.",
						len(args), e.js.Conn().MaxPayload()-invocationHeadroom, res.Action), rules.OutcomeFailed
			default:
				inv := &actions.Invocation{
					ActivationID: derivedID(triggerID, rname), Namespace: ns, Subject: subject,
					Action: *a, Payload: args, APIKey: apiKey, Submitted: time.Now().UnixMilli(), Cause: triggerID,
					TraceParent: traceparent,
				}
				switch {
				case link.Delivery != nil:
					err = e.startDelivery(ctx, &delivery{policy: *link.Delivery, inv: *inv, triggerID: triggerID,
						rule: rname, action: res.Action, ev: ev, hops: hops, trigger: tname})
				case q != nil:
					var stored func(context.Context) error
					if stored, err = q.Queue(ctx, inv); err == nil {
						queued = append(queued, stored)
					}
				default:
					_, err = e.activator.Activate(ctx, inv, 0)
				}
				if err != nil {
					return err
				}
				res.Success, res.ActivationID, res.outcome = true, inv.ActivationID, rules.OutcomeActivated
			}
		}
		b, _ := json.Marshal(res)
		logs = append(logs, string(b))
		results = append(results, res)
	}
	if active == 0 && msg.Headers().Get(hub.HeaderActivationID) == "" {
		// As OpenWhisk, a fire that activates nothing leaves no record;
		// so does a feed event that every active rule filters out. A fire
		// through the API, whose id the caller has, is always recorded.
		e.publishOutcome(ns, t.Name, triggerID, ev, results)
		return nil
	}
	start := meta.Timestamp // when Gust stored the event it received; the event's own time stays in __event
	rec := &actions.Activation{
		Namespace: ns, Name: t.Name, Version: t.Version, Subject: subject, ActivationID: triggerID,
		Start: start.UnixMilli(), Logs: logs,
		Response:    actions.Response{StatusCode: actions.StatusSuccess, Result: mustJSON(payload)},
		Annotations: actions.KeyValues{}.Set("path", ns+"/"+t.Name),
	}
	if traceparent != "" {
		rec.Annotations = rec.Annotations.Set("traceparent", traceparent)
	}
	// The record and the invocations are written at once and confirmed
	// together: the event is acknowledged only once all of them are stored.
	if as, ok := e.records.(asyncRecordStore); ok {
		queued = append(queued, as.PutAsync(ctx, rec, nil))
	} else if err := e.records.Put(ctx, rec); err != nil {
		return err
	}
	var failed error
	for _, stored := range queued { // stored meanwhile, mostly
		if err := stored(ctx); err != nil && failed == nil {
			failed = err
		}
	}
	if failed != nil {
		return failed
	}
	e.publishOutcome(ns, t.Name, triggerID, ev, results)
	return nil
}

// recordDuplicate records the trigger activation triggerID of a fire
// through the API that repeats an event the engine already took: it ran no
// rule, and its log line names the original's activation.
func (e *Engine) recordDuplicate(ctx context.Context, ns string, t *rules.Trigger, triggerID string, msg jetstream.Msg, ev event.Event, stored time.Time) error {
	owner, _, err := e.eventIDs.Owner(ctx, hub.EventKey(ns, t.Name, ev.Source(), ev.ID()))
	if err != nil {
		return err
	}
	subject := msg.Headers().Get(hub.HeaderSubject)
	if subject == "" {
		subject = ns
	}
	line := mustJSON(map[string]string{"duplicateOf": owner,
		"error": fmt.Sprintf("The event (source %s, id %s) was received before, as trigger activation %s; no rule ran again.", ev.Source(), ev.ID(), owner)})
	return e.records.Put(ctx, &actions.Activation{
		Namespace: ns, Name: t.Name, Version: t.Version, Subject: subject, ActivationID: triggerID,
		Start: stored.UnixMilli(), Logs: []string{string(line)},
		Response:    actions.Response{StatusCode: actions.StatusSuccess, Result: mustJSON(map[string]string{"duplicateOf": owner})},
		Annotations: actions.KeyValues{}.Set("path", ns+"/"+t.Name),
	})
}

// invocationHeadroom is what an invocation message needs beside its
// parameters.
const invocationHeadroom = 64 << 10

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

// derivedID is a stable activation id made of parts, so that processing
// the same event again yields the same ids.
func derivedID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
