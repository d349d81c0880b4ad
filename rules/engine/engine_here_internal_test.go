package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
)

// settledMsg is an event's message that tells how it was settled.
type settledMsg struct {
	jetstream.Msg // not called: the methods runHere uses are below
	settled       chan string
}

func newSettledMsg() *settledMsg { return &settledMsg{settled: make(chan string, 1)} }

func (m *settledMsg) Subject() string                  { return "gust.event.guest.t" }
func (m *settledMsg) Ack() error                       { m.settled <- "ack"; return nil }
func (m *settledMsg) NakWithDelay(time.Duration) error { m.settled <- "nak"; return nil }
func (m *settledMsg) InProgress() error                { return nil }

// how waits up to a second for how m was settled, "" if it was not.
func (m *settledMsg) how() string {
	select {
	case s := <-m.settled:
		return s
	case <-time.After(time.Second):
		return ""
	}
}

// queuer is an Activator whose Activate notes what it was asked to queue,
// and fails with fail.
type queuer struct {
	Activator
	fail   bool
	mu     sync.Mutex
	queued []string
}

func (q *queuer) Activate(_ context.Context, inv *actions.Invocation, _ time.Duration) (*actions.Activation, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queued = append(q.queued, inv.ActivationID)
	if q.fail {
		return nil, errors.New("nats: no responders available for request")
	}
	return nil, nil
}

// heldRun is a reservation whose run ends, with end's error, when told.
func heldRun(inv *actions.Invocation) (reserved, chan<- error) {
	end := make(chan error, 1)
	return reserved{inv: inv, cancel: func() {}, start: func(stored func(error)) {
		go func() { stored(<-end) }()
	}}, end
}

// A redelivery of an event while its rule runs here waits for that run,
// and is acknowledged with it; neither starts the action again.
func TestRedeliveryWhileItRunsHereWaitsForTheRun(t *testing.T) {
	e := New(nil, nil, nil, &queuer{}, nil, nil)
	inv := &actions.Invocation{ActivationID: "0123456789abcdef0123456789abcdef", Namespace: "guest"}
	run, end := heldRun(inv)
	first := newSettledMsg()
	e.runHere(first, []reserved{run})
	waiting := e.running.get(inv.ActivationID)
	if waiting == nil {
		t.Fatal("the run here is not known while it runs")
	}
	again := newSettledMsg()
	e.runHere(again, []reserved{waitFor(inv, waiting)})
	if s := again.how(); s != "" {
		t.Fatalf("the redelivery was settled (%s) while the run was under way", s)
	}
	end <- nil
	if s := first.how(); s != "ack" {
		t.Errorf("the first delivery: %q, want ack", s)
	}
	if s := again.how(); s != "ack" {
		t.Errorf("the redelivery: %q, want ack", s)
	}
	if e.running.get(inv.ActivationID) != nil {
		t.Error("the run is still known after it ended")
	}
}

// A run given up before it started is queued, once, by its own event's
// delivery; both that delivery and a redelivery that waited for the run
// are then acknowledged, or both handed back when it could not be queued.
func TestRunGivenUpIsQueuedOnceByItsOwnEvent(t *testing.T) {
	for _, fail := range []bool{false, true} {
		q := &queuer{fail: fail}
		e := New(nil, nil, nil, q, nil, nil)
		inv := &actions.Invocation{ActivationID: "0123456789abcdef0123456789abcdef", Namespace: "guest"}
		run, end := heldRun(inv)
		first := newSettledMsg()
		e.runHere(first, []reserved{run})
		again := newSettledMsg()
		e.runHere(again, []reserved{waitFor(inv, e.running.get(inv.ActivationID))})
		end <- actions.ErrNotStarted
		want := "ack"
		if fail {
			want = "nak"
		}
		if s := first.how(); s != want {
			t.Errorf("queuing fails %v: the first delivery: %q, want %s", fail, s, want)
		}
		if s := again.how(); s != want {
			t.Errorf("queuing fails %v: the redelivery: %q, want %s", fail, s, want)
		}
		q.mu.Lock()
		if len(q.queued) != 1 || q.queued[0] != inv.ActivationID {
			t.Errorf("queuing fails %v: queued %v, want %s once", fail, q.queued, inv.ActivationID)
		}
		q.mu.Unlock()
	}
}
