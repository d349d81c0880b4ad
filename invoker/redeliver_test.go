package invoker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/invoker"
)

// TestRedeliveredInvocationThatRanIsNotRunAgain: an invocation delivered
// again whose record is stored already (its invoker died between storing
// the record and acknowledging the invocation) is acknowledged without
// running: no container starts for it, and the record stays the first
// run's. When the record store cannot answer for a while (its stream
// elects a leader after a node was lost), the invoker does not run it on
// a guess: it asks again until the store answers.
func TestRedeliveredInvocationThatRanIsNotRunAgain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails int32 // Gets that fail before the store answers
	}{
		{"the store answers", 0},
		{"the store cannot answer at first", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			a := s.put(t, action{name: "once", code: counterCode})
			s.invoke(t, "", a, "") // the invoker is up
			inv := afterCrash(t, s, a)
			ctx := t.Context()
			first := json.RawMessage(`{"first":"run"}`)
			now := time.Now().UnixMilli()
			if err := s.records.Put(ctx, &actions.Activation{
				Namespace: "guest", Name: a.Name, Version: a.Version, Subject: "guest", ActivationID: inv.ActivationID,
				Start: now, End: now, Response: actions.Response{StatusCode: actions.StatusSuccess, Result: first},
			}); err != nil {
				t.Fatal(err)
			}
			cons, seq := takenAndGivenBack(t, s, inv)

			var asked atomic.Int32
			s.wrapRecords = func(rs invoker.RecordStore) invoker.RecordStore {
				return failingGets{RecordStore: rs, fails: tc.fails, asked: &asked}
			}
			s.startInvoker(t, invokerPool(0))
			if !eventually(time.Minute, func() bool {
				info, err := cons.Info(ctx)
				return err == nil && info.NumAckPending == 0 && info.AckFloor.Stream >= seq
			}) {
				t.Fatal("the redelivered invocation was not acknowledged within a minute")
			}
			if n := len(s.containers(t)); n != 0 {
				t.Errorf("%d containers after the redelivery, want 0: it ran again", n)
			}
			if n := asked.Load(); n < tc.fails+1 {
				t.Errorf("the store was asked %d times, want it asked until it answered (%d)", n, tc.fails+1)
			}
			rec, err := s.records.Get(ctx, "guest", inv.ActivationID)
			if err != nil {
				t.Fatal(err)
			}
			if string(rec.Response.Result) != string(first) {
				t.Errorf("record after the redelivery: result %s, want the first run's %s", rec.Response.Result, first)
			}
		})
	}
}

// failingGets is a record store whose first fails Gets fail as a store
// without a leader does.
type failingGets struct {
	invoker.RecordStore
	fails int32
	asked *atomic.Int32
}

func (f failingGets) Get(ctx context.Context, ns, id string) (*actions.Activation, error) {
	if f.asked.Add(1) <= f.fails {
		return nil, errors.New("get activation: nats: timeout")
	}
	return f.RecordStore.Get(ctx, ns, id)
}

// TestRedeliveredInvocationRunningHereIsNotRunAgain: JetStream delivers an
// invocation again while it runs (here the test naks it from its first
// heartbeat on; in a cluster, heartbeats lost while the stream's leader
// changes do the same). The invoker does not run it a second time beside
// the first: the action's one container counts two runs, the warm-up and
// this one, and no other container starts.
func TestRedeliveredInvocationRunningHereIsNotRunAgain(t *testing.T) {
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "slowonce", code: counterCode})
	s.invoke(t, "", a, "") // its container is warm

	nakked := make(chan string, 1)
	sub, err := s.hub.Conn().Subscribe("$JS.ACK."+invoker.InvokeStream+".>", func(m *nats.Msg) {
		if string(m.Data) != "+WPI" {
			return
		}
		select {
		case nakked <- m.Subject:
			// Given back while it runs: JetStream delivers it again now.
			if _, err := s.hub.Conn().Request(m.Subject, []byte("-NAK"), 5*time.Second); err != nil {
				t.Errorf("nak: %v", err)
			}
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	rec := s.invoke(t, "", a, `{"sleep":9000}`)
	select {
	case <-nakked:
	default:
		t.Fatal("no heartbeat of the running invocation was seen: the test did not redeliver it")
	}
	var c counted
	result(t, rec, &c)
	if c.N != 2 {
		t.Errorf("the slow run was run %d in its container, want 2", c.N)
	}
	ctx := t.Context()
	cons := sharedQueue(t, s)
	if !eventually(time.Minute, func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	}) {
		t.Fatal("the invocation was not acknowledged within a minute")
	}
	result(t, s.invoke(t, "", a, ""), &c)
	if c.N != 3 {
		t.Errorf("the run after it is the container's run %d, want 3: the redelivery ran too", c.N)
	}
	if n := len(s.containers(t)); n != 1 {
		t.Errorf("%d containers, want 1: the redelivery started another", n)
	}
}

// TestRedeliveredInvocationRunningElsewhereIsNotRunHere: an invocation
// delivered again (its first delivery given back) is not run while
// another invoker answers that it runs it (here the test answers for it,
// as a live invoker whose delivery JetStream forgot would); once none
// does, its next delivery runs, once.
func TestRedeliveredInvocationRunningElsewhereIsNotRunHere(t *testing.T) {
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "elsewhere", code: counterCode})
	s.invoke(t, "", a, "") // the invoker is up
	inv := afterCrash(t, s, a)
	ctx := t.Context()
	var asked atomic.Int32
	var elsewhere atomic.Bool
	elsewhere.Store(true)
	sub, err := s.hub.Conn().Subscribe(invoker.RunningSubject, func(m *nats.Msg) {
		_, id, _ := strings.Cut(string(m.Data), " ")
		if id != inv.ActivationID {
			return
		}
		asked.Add(1)
		if elsewhere.Load() {
			_ = m.Respond([]byte("another"))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	takenAndGivenBack(t, s, inv)

	s.startInvoker(t, invokerPool(0))
	if !eventually(time.Minute, func() bool { return asked.Load() > 0 }) {
		t.Fatal("the invoker did not ask whether another runs the redelivered invocation")
	}
	time.Sleep(3 * time.Second) // past runningAskWait: it would have started by now
	if _, err := s.records.Get(ctx, "guest", inv.ActivationID); err == nil {
		t.Fatal("the invocation ran though another invoker said it runs it")
	}
	if n := len(s.containers(t)); n != 0 {
		t.Fatalf("%d containers: the invocation another runs started here", n)
	}

	// That invoker is gone: JetStream delivers it again after its ack
	// wait, and it runs here.
	elsewhere.Store(false)
	var rec *actions.Activation
	if !eventually(time.Minute, func() bool {
		rec, err = s.records.Get(ctx, "guest", inv.ActivationID)
		return err == nil
	}) {
		t.Fatal("the invocation did not run once no other invoker said it runs it")
	}
	var c counted
	result(t, rec, &c)
	if c.N != 1 {
		t.Errorf("its container counts run %d, want 1", c.N)
	}
}

// afterCrash stops the stack's invoker as a crash would, removes what it
// left as the next invoker does, and returns a new invocation of a.
func afterCrash(t *testing.T, s *stack, a *actions.Action) *actions.Invocation {
	t.Helper()
	s.stopInvKeepPool()
	if err := s.sb.RemoveLeftovers(t.Context(), s.owner); err != nil {
		t.Fatal(err)
	}
	return &actions.Invocation{
		ActivationID: actions.NewActivationID(), Namespace: "guest", Subject: "guest",
		Action: *a, Submitted: time.Now().UnixMilli(),
	}
}

// sharedQueue is the consumer of the shared invocation queue.
func sharedQueue(t *testing.T, s *stack) jetstream.Consumer {
	t.Helper()
	st, err := s.hub.JetStream().Stream(t.Context(), invoker.InvokeStream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.Consumer(t.Context(), invoker.InvokeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	return cons
}

// takenAndGivenBack queues inv while no invoker runs, then does with it
// what an invoker that dies does: takes it from the shared queue and
// gives it back unacknowledged. It returns that queue's consumer and the
// invocation's sequence in the stream.
func takenAndGivenBack(t *testing.T, s *stack, inv *actions.Invocation) (jetstream.Consumer, uint64) {
	t.Helper()
	if _, err := s.disp.Activate(t.Context(), inv, 0); err != nil {
		t.Fatal(err)
	}
	cons := sharedQueue(t, s)
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var taken []string
	var seq uint64
	for m := range batch.Messages() {
		var got actions.Invocation
		_ = json.Unmarshal(m.Data(), &got)
		taken = append(taken, got.ActivationID)
		if md, err := m.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		// As a request, so that the nak is processed before the next
		// invoker pulls.
		if _, err := s.hub.Conn().Request(m.Reply(), []byte("-NAK"), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if len(taken) != 1 || taken[0] != inv.ActivationID || seq == 0 {
		t.Fatalf("took %v from the queue, want %s", taken, inv.ActivationID)
	}
	return cons, seq
}
