package hub_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// batchStream creates stream B (subjects b.>) on h's JetStream.
func batchStream(t *testing.T, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	st, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "B", Subjects: []string{"b.>"}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestBatch: the writes of a batch are stored once Wait returns, and each
// has its own outcome: stored, a duplicate message id, an expected
// sequence that does not hold, no stream for its subject.
func TestBatch(t *testing.T) {
	ctx := t.Context()
	h := hubtest.Start(t)
	js := h.JetStream()
	st := batchStream(t, js)
	if _, err := hub.Publish(ctx, js, &nats.Msg{Subject: "b.taken", Data: []byte("0")}); err != nil {
		t.Fatal(err)
	}
	b := hub.NewBatch(js)
	const n = 200
	ok := make([]*hub.Write, n)
	for i := range n {
		ok[i] = b.Publish(&nats.Msg{Subject: fmt.Sprintf("b.%d", i), Data: []byte(fmt.Sprint(i))}, jetstream.WithMsgID(fmt.Sprint("id-", i)))
	}
	dup := b.Publish(&nats.Msg{Subject: "b.dup", Data: []byte("again")}, jetstream.WithMsgID("id-7"))
	taken := b.Publish(&nats.Msg{Subject: "b.taken", Data: []byte("1")}, jetstream.WithExpectLastSequencePerSubject(0))
	short, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	lost := b.Publish(&nats.Msg{Subject: "nostream.x", Data: []byte("x")})
	if b.Len() != n+3 {
		t.Fatalf("Len = %d, want %d", b.Len(), n+3)
	}
	err := b.Wait(short)
	if err == nil || short.Err() != nil {
		t.Fatalf("Wait = %v (context %v); want the two failures reported within 20 s", err, short.Err())
	}
	if want := fmt.Sprintf("2 of %d writes failed", n+3); !strings.Contains(err.Error(), want) || !hub.IsWrongLastSequence(err) {
		t.Fatalf("Wait = %v; want %q wrapping the first failure, the wrong last sequence", err, want)
	}
	for i, w := range ok {
		if w.Err() != nil || w.Ack() == nil || w.Ack().Stream != "B" || w.Ack().Duplicate {
			t.Fatalf("write %d: ack %+v, err %v; want stored", i, w.Ack(), w.Err())
		}
		m, err := st.GetMsg(ctx, w.Ack().Sequence)
		if err != nil || string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("write %d stored as %v, %v", i, m, err)
		}
	}
	if dup.Err() != nil || !dup.Ack().Duplicate {
		t.Fatalf("same message id: ack %+v, err %v; want a duplicate", dup.Ack(), dup.Err())
	}
	if !hub.IsWrongLastSequence(taken.Err()) || taken.Ack() != nil {
		t.Fatalf("expected sequence 0 on a subject with a message: %v; want wrong last sequence", taken.Err())
	}
	if lost.Err() == nil || lost.Ack() != nil {
		t.Fatal("a subject without a stream: no error")
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != n+1 {
		t.Fatalf("stream holds %v messages (%v), want %d", info.State.Msgs, err, n+1)
	}

	// Reused: only the new writes are waited for and counted.
	b.Reset()
	again := b.Publish(&nats.Msg{Subject: "b.again", Data: []byte("a")})
	if err := b.Wait(ctx); err != nil || again.Ack() == nil {
		t.Fatalf("reset batch: Wait = %v, ack %+v", err, again.Ack())
	}
	if err := (hub.NewBatch(js)).Wait(ctx); err != nil {
		t.Fatalf("empty batch: Wait = %v", err)
	}
}

// TestBatchStalled: writes the asynchronous publisher has no room for are
// published by Wait, after the others, and stored all the same.
func TestBatchStalled(t *testing.T) {
	ctx := t.Context()
	h := hubtest.Start(t)
	js, err := jetstream.New(h.Conn(), jetstream.WithPublishAsyncMaxPending(1))
	if err != nil {
		t.Fatal(err)
	}
	st := batchStream(t, js)
	b := hub.NewBatch(js)
	const n = 100
	for i := range n {
		b.Publish(&nats.Msg{Subject: "b.s", Data: []byte(fmt.Sprint(i))}, jetstream.WithMsgID(fmt.Sprint(i)), jetstream.WithStallWait(time.Nanosecond))
	}
	if err := b.Wait(ctx); err != nil {
		t.Fatalf("Wait = %v", err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != n {
		t.Fatalf("stream holds %v messages (%v), want %d", info.State.Msgs, err, n)
	}
}

// TestBatchContext: Wait gives up when its context ends, and says so for
// each write not yet confirmed.
func TestBatchContext(t *testing.T) {
	h := hubtest.Start(t)
	js := h.JetStream()
	batchStream(t, js)
	b := hub.NewBatch(js)
	w := b.Publish(&nats.Msg{Subject: "b.c", Data: []byte("c")})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := b.Wait(ctx)
	// The write may have been confirmed before Wait looked; if not, its
	// error is the context's.
	if err != nil && (!errors.Is(err, context.Canceled) || !errors.Is(w.Err(), context.Canceled)) {
		t.Fatalf("Wait with an ended context = %v, write %v; want context.Canceled", err, w.Err())
	}
	if err == nil && w.Ack() == nil {
		t.Fatal("Wait = nil without an acknowledgement")
	}
}

// TestBatchUnanswered: writes that nobody acknowledges, as JetStream does
// not acknowledge the writes in flight when it restarts (its disk ran out
// of space, hub.recoverWrites) or while its store cannot write, all fail
// with nats.ErrTimeout once Wait's time is up, not only the first. Wait
// used to give its one timer's tick to the first write and wait for the
// second for good, which stopped the rule engine after a restart
// (TestDiskRunsOut).
func TestBatchUnanswered(t *testing.T) {
	h := hubtest.Start(t)
	// A plain subscriber takes the writes, so that no "no responders"
	// fails them, and answers none.
	sub, err := h.Conn().Subscribe("silent.>", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	b := hub.NewBatch(h.JetStream())
	ws := []*hub.Write{b.Publish(nats.NewMsg("silent.1")), b.Publish(nats.NewMsg("silent.2")), b.Publish(nats.NewMsg("silent.3"))}
	done := make(chan error, 1)
	go func() { done <- b.Wait(context.Background()) }() // no deadline: Wait bounds itself (10 s)
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a guard against the hang, far above Wait's bound
		t.Fatal("Wait still waits a minute on for writes nobody acknowledges")
	}
	if want := fmt.Sprintf("%d of %d writes failed", len(ws), len(ws)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Wait = %v; want %q", err, want)
	}
	for i, w := range ws {
		if !errors.Is(w.Err(), nats.ErrTimeout) || w.Ack() != nil {
			t.Errorf("write %d: ack %+v, err %v; want nats.ErrTimeout", i, w.Ack(), w.Err())
		}
	}
}
