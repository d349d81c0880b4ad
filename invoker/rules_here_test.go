package invoker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// slowCode takes 50 ms, so that a burst of events finds its one container
// busy.
const slowCode = `function main() { return new Promise(r => setTimeout(() => r({ ok: true }), 50)); }`

// The rule engine runs the activations of its rules in this process when
// the action has a warm container here, free or busy (on one machine, the
// queue would bring them to this invoker anyway): a burst of events
// writes nothing to the invocation queue, every activation runs once and
// is recorded, and every event is acknowledged once its records are
// stored.
func TestRuleActivationsRunHereOnAWarmContainer(t *testing.T) {
	ctx := t.Context()
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "slow", code: slowCode})
	if rec := s.invoke(t, "", a, ""); rec.Response.StatusCode != actions.StatusSuccess {
		t.Fatalf("warm up: %s", rec.Response.Result)
	}
	startRuleEngine(t, s, "slow", 1)
	before := queued(t, s)
	js := s.hub.JetStream()
	const n = 20
	for i := range n {
		ev := event.New()
		ev.SetID(fmt.Sprint("e-", i))
		ev.SetSource("/test")
		ev.SetType("dev.gust.test")
		if err := hub.PublishEvent(ctx, js, "guest", "t", ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.Consumer(ctx, hub.EventsStream, hub.RulesConsumer)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, runs, err := s.records.List(ctx, actions.Query{Namespace: "guest", Path: "slow", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if runs == n+1 && ci.NumAckPending == 0 && ci.NumPending == 0 { // the warm-up's too
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d activations recorded, %d events unacknowledged after a minute", runs-1, n, ci.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if q := queued(t, s) - before; q != 0 {
		t.Errorf("%d invocations queued, want none: the container was warm here", q)
	}
	recs, _, err := s.records.List(ctx, actions.Query{Namespace: "guest", Path: "slow", Limit: 100, Docs: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.Response.StatusCode != actions.StatusSuccess {
			t.Errorf("activation %s: %d %s", rec.ActivationID, rec.Response.StatusCode, rec.Response.Result)
		}
	}
	time.Sleep(300 * time.Millisecond) // a second run of any would be recorded by now
	if _, runs, err := s.records.List(ctx, actions.Query{Namespace: "guest", Path: "slow", Limit: 1}); err != nil || runs != n+1 {
		t.Errorf("%d activations recorded (%v), want %d: each event's once", runs-1, err, n)
	}
}

// A stopping invoker waits for the runs reserved here (Reserve) until
// they are started and recorded, or given up.
func TestStoppingInvokerWaitsForWhatItReserved(t *testing.T) {
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "slow", code: slowCode})
	if rec := s.invoke(t, "", a, ""); rec.Response.StatusCode != actions.StatusSuccess {
		t.Fatalf("warm up: %s", rec.Response.Result)
	}
	inv := &actions.Invocation{ActivationID: actions.NewActivationID(), Namespace: "guest", Subject: "guest", Action: *a}
	start, cancel := s.iv.Reserve(context.Background(), inv, false)
	if start == nil || cancel == nil {
		t.Fatal("nothing reserved on a warm, free container")
	}
	if again, _ := s.iv.Reserve(context.Background(), inv, true); again != nil {
		t.Fatal("the same invocation reserved twice")
	}
	stopped := make(chan struct{})
	go func() { s.stopRun(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("the invoker stopped while a reservation was neither started nor given up")
	case <-time.After(300 * time.Millisecond):
	}
	stored := make(chan error, 1)
	start(func(err error) { stored <- err })
	select {
	case err := <-stored:
		if err != nil {
			t.Fatalf("record: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the reserved run's record was not stored")
	}
	<-stopped
	if _, err := s.records.Get(t.Context(), "guest", inv.ActivationID); err != nil {
		t.Errorf("the reserved run's record: %v", err)
	}
}

// A run reserved to wait in line for a busy container gives up, without a
// record, when the invoker stops before it got one: whoever reserved it
// (the rule engine, whose event is then delivered again) runs it later,
// as the queue keeps what its consumer had not taken.
func TestStoppingInvokerGivesUpRunsStillInLine(t *testing.T) {
	s := newStack(t, stackOptions{pool: invokerPool(actions.DefaultMemoryMB)}) // room for one container: the line starts no other
	a := s.put(t, action{name: "slower", code: `function main() { return new Promise(r => setTimeout(() => r({ ok: true }), 1500)); }`})
	if rec := s.invoke(t, "", a, ""); rec.Response.StatusCode != actions.StatusSuccess {
		t.Fatalf("warm up: %s", rec.Response.Result)
	}
	reserve := func(wait bool) (string, <-chan error) {
		inv := &actions.Invocation{ActivationID: actions.NewActivationID(), Namespace: "guest", Subject: "guest", Action: *a}
		start, _ := s.iv.Reserve(context.Background(), inv, wait)
		if start == nil {
			t.Fatalf("nothing reserved (wait %v)", wait)
		}
		stored := make(chan error, 1)
		start(func(err error) { stored <- err })
		return inv.ActivationID, stored
	}
	running, runStored := reserve(false)
	time.Sleep(200 * time.Millisecond) // its /run is under way
	waiting, waitStored := reserve(true)
	s.stopRun()
	if err := <-runStored; err != nil {
		t.Errorf("the running activation's record: %v", err)
	}
	if _, err := s.records.Get(t.Context(), "guest", running); err != nil {
		t.Errorf("the running activation's record: %v", err)
	}
	select {
	case err := <-waitStored:
		if !errors.Is(err, actions.ErrNotStarted) {
			t.Errorf("the activation waiting in line ended with %v, want it given up: %v", err, actions.ErrNotStarted)
		}
	default:
		t.Fatal("the invoker stopped before it said what became of the activation waiting in line")
	}
	if _, err := s.records.Get(t.Context(), "guest", waiting); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("the activation given up has a record (%v), want none", err)
	}
}
