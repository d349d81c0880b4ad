package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/rules/engine"
)

// hereActivator is the production dispatcher with an invoker in its
// process (engine.LocalRunner) that takes every invocation: a run stores
// the action's record, then, once release is closed, tells the engine
// what tell says of it (nil: stored).
type hereActivator struct {
	*dispatch.Dispatcher
	recs    *actions.ActivationStore
	release chan struct{}
	tell    func(id string) error

	mu        sync.Mutex
	started   map[string]int
	cancelled map[string]int
}

func newHereActivator(h *hub.Hub, acts *actions.Store, recs *actions.ActivationStore) *hereActivator {
	release := make(chan struct{})
	close(release)
	return &hereActivator{Dispatcher: dispatch.New(h, acts, recs, nil), recs: recs, release: release,
		tell: func(string) error { return nil }, started: map[string]int{}, cancelled: map[string]int{}}
}

func (a *hereActivator) Reserve(_ context.Context, inv *actions.Invocation) (func(func(error)), func()) {
	id := inv.ActivationID
	start := func(stored func(error)) {
		a.mu.Lock()
		a.started[id]++
		a.mu.Unlock()
		go func() {
			err := a.tell(id)
			if !errors.Is(err, actions.ErrNotStarted) {
				if perr := a.recs.Put(context.Background(), &actions.Activation{Namespace: inv.Namespace, Name: inv.Action.Name,
					ActivationID: id, Response: actions.Response{StatusCode: actions.StatusSuccess}}); perr != nil {
					err = perr
				}
			}
			<-a.release
			stored(err)
		}()
	}
	cancel := func() {
		a.mu.Lock()
		a.cancelled[id]++
		a.mu.Unlock()
	}
	return start, cancel
}

func (a *hereActivator) counts(id string) (started, cancelled int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.started[id], a.cancelled[id]
}

// hereRig is an engine whose activator runs rules here, on trigger t of
// an action echo; recs is the real activation store.
type hereRig struct {
	js   jetstream.JetStream
	recs *actions.ActivationStore
	here *hereActivator
	cons jetstream.Consumer
}

func newHereRig(t *testing.T, records func(*actions.ActivationStore) engine.RecordStore, setup func(*hereActivator)) *hereRig {
	t.Helper()
	ctx := t.Context()
	h, acts, store := testStores(t, "echo")
	js := h.JetStream()
	recs := openQueueAndRecords(t, js)
	putTrigger(t, store, "t", "echo", nil)
	here := newHereActivator(h, acts, recs)
	if setup != nil {
		setup(here)
	}
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		t.Fatal(err)
	}
	startEngine(t, engine.New(js, store, acts, here, records(recs), nil))
	var cons jetstream.Consumer
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if cons, err = js.Consumer(ctx, hub.EventsStream, hub.RulesConsumer); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine's consumer: %v", err)
		}
	}
	return &hereRig{js: js, recs: recs, here: here, cons: cons}
}

// fire puts event id on trigger t and returns the activation id of its
// rule's action.
func (r *hereRig) fire(t *testing.T, id string) string {
	t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource("/test")
	ev.SetType("dev.gust.test")
	if err := hub.PublishEvent(t.Context(), r.js, "guest", "t", ev, nil); err != nil {
		t.Fatal(err)
	}
	var rec *actions.Activation
	eventually(t, "the trigger record", func() bool {
		recs, _, err := r.recs.List(t.Context(), actions.Query{Namespace: "guest", Path: "t", Limit: 1})
		if err != nil || len(recs) == 0 {
			return false
		}
		rec = &recs[0]
		return true
	})
	full, err := r.recs.Get(t.Context(), "guest", rec.ActivationID)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Logs) != 1 {
		t.Fatalf("trigger record logs %q, want one line", full.Logs)
	}
	return ruleActivation(t, full.Logs[0])
}

// settled waits until every event is acknowledged.
func (r *hereRig) settled(t *testing.T) {
	t.Helper()
	eventually(t, "every event acknowledged", func() bool {
		ci, err := r.cons.Info(t.Context())
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0
	})
}

// queued is how many invocations are on the work queue.
func (r *hereRig) queued(t *testing.T) uint64 {
	t.Helper()
	st, err := r.js.Stream(t.Context(), hub.InvocationsStream)
	if err != nil {
		t.Fatal(err)
	}
	si, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return si.State.Msgs
}

// TestRuleRunHereAcksTheEventOnceItsRecordIsStored: a rule whose action
// runs in this process takes no queue write, and its event stays
// unacknowledged until the action's record is stored.
func TestRuleRunHereAcksTheEventOnceItsRecordIsStored(t *testing.T) {
	r := newHereRig(t, func(s *actions.ActivationStore) engine.RecordStore { return s }, func(a *hereActivator) {
		a.release = make(chan struct{})
	})
	id := r.fire(t, "e-1")
	eventually(t, "the run started", func() bool { s, _ := r.here.counts(id); return s == 1 })
	eventually(t, "the action's record", func() bool { _, err := r.recs.Get(t.Context(), "guest", id); return err == nil })
	time.Sleep(200 * time.Millisecond) // an ack that did not wait would be in by now
	ci, err := r.cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumAckPending != 1 {
		t.Fatalf("%d events pending acknowledgement before the engine was told the record is stored, want 1", ci.NumAckPending)
	}
	close(r.here.release)
	r.settled(t)
	if n := r.queued(t); n != 0 {
		t.Errorf("%d invocations queued, want none: the rule ran here", n)
	}
	if s, c := r.here.counts(id); s != 1 || c != 0 {
		t.Errorf("run started %d times and given up %d times, want 1 and 0", s, c)
	}
}

// TestRuleRunHereWhoseRecordIsLostAcksItsEvent: a run here whose record
// could not be stored for good ends its event as a queued invocation's
// does: acknowledged (the invoker logged the loss), not delivered again to
// run the action again and again.
func TestRuleRunHereWhoseRecordIsLostAcksItsEvent(t *testing.T) {
	var triggerRecords *countedRecords
	r := newHereRig(t, func(s *actions.ActivationStore) engine.RecordStore {
		triggerRecords = &countedRecords{ActivationStore: s, writes: map[string]int{}}
		return triggerRecords
	}, func(a *hereActivator) {
		a.tell = func(string) error { return errors.New("encode activation: the result is not JSON") }
	})
	id := r.fire(t, "e-1")
	r.settled(t)
	time.Sleep(1500 * time.Millisecond) // a redelivery, a second after a hand-back, would be under way
	r.settled(t)
	if s, c := r.here.counts(id); s != 1 || c != 0 {
		t.Errorf("run started %d times and given up %d times, want 1 and 0", s, c)
	}
	if n := triggerRecords.most(); n != 1 {
		t.Errorf("the event was processed %d times, want once", n)
	}
}

// TestRuleGivenUpHereIsQueuedInstead: a run here that the invoker gave up
// before it started (it stops) is queued, and its event acknowledged.
func TestRuleGivenUpHereIsQueuedInstead(t *testing.T) {
	r := newHereRig(t, func(s *actions.ActivationStore) engine.RecordStore { return s }, func(a *hereActivator) {
		a.tell = func(string) error { return actions.ErrNotStarted }
	})
	id := r.fire(t, "e-1")
	r.settled(t)
	if n := r.queued(t); n != 1 {
		t.Errorf("%d invocations queued, want the one given up", n)
	}
	if s, _ := r.here.counts(id); s != 1 {
		t.Errorf("run started %d times, want once", s)
	}
}

// TestRedeliveredEventRunsNotWhatWasRecorded: an event whose process died
// while its rule ran here, after the action's record was stored but
// before the event was acknowledged, comes again to the next engine,
// which runs nothing again and acknowledges it.
func TestRedeliveredEventRunsNotWhatWasRecorded(t *testing.T) {
	engine.SetEventAckWait(t, time.Second)
	ctx := t.Context()
	h, acts, store := testStoresOn(t, hubtest.StartWith(t, hub.Options{Listen: "127.0.0.1:0"}), "echo")
	js := h.JetStream()
	recs := openQueueAndRecords(t, js)
	putTrigger(t, store, "t", "echo", nil)
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		t.Fatal(err)
	}
	// The first engine has a connection of its own, closed as its
	// process's would be when it dies; its run never ends.
	dying := hubtest.Connect(t, h.ClientURL())
	first := newHereActivator(h, acts, recs)
	first.release = make(chan struct{})
	t.Cleanup(func() { close(first.release) })
	ectx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- engine.New(dying, store, acts, first, recs, nil).Run(ectx) }()
	r := &hereRig{js: js, recs: recs, here: first}
	id := r.fire(t, "e-1")
	eventually(t, "the action's record", func() bool { ok, _ := recs.Has(ctx, "guest", id); return ok })
	dying.Conn().Close()
	stop()
	<-done // its error, if any, is the closed connection's

	second := newHereActivator(h, acts, recs)
	startEngine(t, engine.New(js, store, acts, second, recs, nil))
	cons, err := js.Consumer(ctx, hub.EventsStream, hub.RulesConsumer)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the event redelivered and acknowledged", func() bool {
		ci, err := cons.Info(ctx)
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0 && ci.Delivered.Consumer >= 2
	})
	if s, c := second.counts(id); s != 0 || c != 0 {
		t.Errorf("the redelivery started the run %d times and gave it up %d times, want neither: it is recorded", s, c)
	}
	if n := r.queued(t); n != 0 {
		t.Errorf("%d invocations queued, want none", n)
	}
}

// TestRedeliveredEventQueuesWhatIsNotRecorded: a redelivered event whose
// rule has no record queues it, even with a container warm here: an
// earlier delivery may have queued it already, and only the queue drops
// the duplicate.
func TestRedeliveredEventQueuesWhatIsNotRecorded(t *testing.T) {
	r := newHereRig(t, func(s *actions.ActivationStore) engine.RecordStore {
		return &flakyRecords{ActivationStore: s, failing: "t", tries: map[string]int{}}
	}, nil)
	id := r.fire(t, "e-1")
	r.settled(t)
	if s, c := r.here.counts(id); s != 0 || c != 1 {
		t.Errorf("run started %d times and given up %d times, want 0 and 1: the redelivery queues it", s, c)
	}
	if n := r.queued(t); n != 1 {
		t.Errorf("%d invocations queued, want 1", n)
	}
}

// countedRecords counts the batched writes of each record.
type countedRecords struct {
	*actions.ActivationStore
	mu     sync.Mutex
	writes map[string]int
}

func (c *countedRecords) PutIn(b *hub.Batch, a *actions.Activation, enc []byte) func(context.Context) error {
	c.mu.Lock()
	c.writes[a.ActivationID]++
	c.mu.Unlock()
	return c.ActivationStore.PutIn(b, a, enc)
}

func (c *countedRecords) most() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := 0
	for _, n := range c.writes {
		m = max(m, n)
	}
	return m
}

// eventually waits up to 30 s for cond, failing t with what it waited for.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30 s", what)
		}
	}
}

// ruleActivation is the activation id in a trigger record's log line.
func ruleActivation(t *testing.T, line string) string {
	t.Helper()
	var res struct {
		ActivationID string `json:"activationId"`
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil || res.ActivationID == "" {
		t.Fatalf("log line %s: want a rule's activation id (%v)", line, err)
	}
	return res.ActivationID
}
