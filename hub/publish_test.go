package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// TestPublish: Publish returns once JetStream stored the message, with
// JetStream's answers to a duplicate message id, to an expected sequence
// that does not hold, and to a subject no stream takes.
func TestPublish(t *testing.T) {
	ctx := t.Context()
	h := hubtest.Start(t)
	js := h.JetStream()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "P", Subjects: []string{"p.>"}})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := hub.Publish(ctx, js, &nats.Msg{Subject: "p.a", Data: []byte("1")}, jetstream.WithMsgID("one"))
	if err != nil || ack.Sequence != 1 || ack.Duplicate {
		t.Fatalf("first publish: %+v, %v; want sequence 1", ack, err)
	}
	if m, err := st.GetMsg(ctx, 1); err != nil || string(m.Data) != "1" {
		t.Fatalf("stored message: %v, %v", m, err)
	}
	ack, err = hub.Publish(ctx, js, &nats.Msg{Subject: "p.a", Data: []byte("again")}, jetstream.WithMsgID("one"))
	if err != nil || !ack.Duplicate {
		t.Fatalf("same message id: %+v, %v; want a duplicate", ack, err)
	}
	_, err = hub.Publish(ctx, js, &nats.Msg{Subject: "p.a", Data: []byte("2")}, jetstream.WithExpectLastSequencePerSubject(0))
	if !hub.IsWrongLastSequence(err) {
		t.Fatalf("expected sequence 0 on a subject with a message: %v, want wrong last sequence", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := hub.Publish(short, js, &nats.Msg{Subject: "nostream.a", Data: []byte("x")}); err == nil {
		t.Fatal("publish to a subject without a stream: no error")
	}
	if short.Err() != nil {
		t.Fatal("publish to a subject without a stream: no answer within 20 s")
	}
}
