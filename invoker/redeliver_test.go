package invoker_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/invoker"
)

// TestRedeliveredInvocationThatRanIsNotRunAgain: an invocation delivered
// again whose record is stored already (its invoker died between storing
// the record and acknowledging the invocation) is acknowledged without
// running: no container starts for it, and the record stays the first
// run's.
func TestRedeliveredInvocationThatRanIsNotRunAgain(t *testing.T) {
	s := newStack(t, stackOptions{})
	a := s.put(t, action{name: "once", code: counterCode})
	s.invoke(t, "", a, "") // the invoker is up
	// The invoker dies; the next one removes what it left.
	s.stopInvKeepPool()
	ctx := t.Context()
	if err := s.sb.RemoveLeftovers(ctx, s.owner); err != nil {
		t.Fatal(err)
	}

	inv := &actions.Invocation{
		ActivationID: actions.NewActivationID(), Namespace: "guest", Subject: "guest",
		Action: *a, Submitted: time.Now().UnixMilli(),
	}
	first := json.RawMessage(`{"first":"run"}`)
	now := time.Now().UnixMilli()
	if err := s.records.Put(ctx, &actions.Activation{
		Namespace: "guest", Name: a.Name, Version: a.Version, Subject: "guest", ActivationID: inv.ActivationID,
		Start: now, End: now, Response: actions.Response{StatusCode: actions.StatusSuccess, Result: first},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.disp.Activate(ctx, inv, 0); err != nil {
		t.Fatal(err)
	}
	// The dead invoker's delivery: taken, then given back unacknowledged.
	st, err := s.hub.JetStream().Stream(ctx, invoker.InvokeStream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.Consumer(ctx, invoker.InvokeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var taken []string
	var seq uint64 // the invocation's in the stream
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
	rec, err := s.records.Get(ctx, "guest", inv.ActivationID)
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Response.Result) != string(first) {
		t.Errorf("record after the redelivery: result %s, want the first run's %s", rec.Response.Result, first)
	}
}
