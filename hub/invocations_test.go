package hub_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// An earlier version's work-queue stream is moved into the queue: what
// waited there waits in the queue, once, and the old stream is gone.
func TestOpenInvocationsMovesLegacyWorkQueue(t *testing.T) {
	ctx := context.Background()
	js := hubtest.Start(t).JetStream()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "GUST_INVOKE", Subjects: []string{"gust.invoke.>"}, Retention: jetstream.WorkQueuePolicy,
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "gust.invoke.guest", fmt.Appendf(nil, `{"activationId":"a%d"}`, i),
			jetstream.WithMsgID(fmt.Sprintf("a%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // a second open, or a second process, moves nothing twice
		if _, err := hub.OpenInvocations(ctx, js); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Stream(ctx, "GUST_INVOKE"); err != jetstream.ErrStreamNotFound {
		t.Errorf("legacy stream after the move: %v, want it deleted", err)
	}
	st, err := js.Stream(ctx, hub.InvocationsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("%d invocations in the queue, want 3", info.State.Msgs)
	}
	for i := range 3 {
		m, err := st.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`{"activationId":"a%d"}`, i)
		if m.Subject != hub.InvocationSubject("guest") || string(m.Data) != want || m.Header.Get(jetstream.MsgIDHeader) != fmt.Sprintf("a%d", i) {
			t.Errorf("message %d: %s %s %v, want %s %s", i+1, m.Subject, m.Data, m.Header, hub.InvocationSubject("guest"), want)
		}
	}
}
