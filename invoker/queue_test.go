package invoker

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// The invokers' trim purges the invocations below the ack floor, and only
// those.
func TestTrimQueuePurgesTakenInvocations(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	js := hubtest.Start(t).JetStream()
	st, err := hub.OpenInvocations(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: invokeConsumer, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := js.Publish(ctx, hub.InvocationSubject("guest"), fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := cons.Fetch(4, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var taken []jetstream.Msg
	for m := range batch.Messages() {
		taken = append(taken, m)
	}
	if len(taken) != 4 {
		t.Fatalf("fetched %d, want 4", len(taken))
	}
	for _, m := range taken[:3] { // the fourth is still being taken
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	iv := &Invoker{log: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() { defer close(done); iv.trimQueue(ctx, st) }()
	deadline := time.Now().Add(10 * time.Second)
	var state jetstream.StreamState
	for time.Now().Before(deadline) {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if state = info.State; state.FirstSeq == 4 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if state.FirstSeq != 4 || state.Msgs != 2 {
		t.Fatalf("queue after the trim: first %d, %d messages; want 4 and 2", state.FirstSeq, state.Msgs)
	}
	// What was left is still delivered: the unacknowledged one again, after
	// a nak, and the one never fetched. The nak is sent as a request, which
	// the server answers once it has processed it: a plain Nak is fire and
	// forget, and the next fetch could overtake it and get {"n":4} first.
	if _, err := js.Conn().Request(taken[3].Reply(), []byte("-NAK"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	batch, err = cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, string(m.Data()))
	}
	if fmt.Sprint(got) != `[{"n":3} {"n":4}]` {
		t.Errorf("after the trim the consumer delivered %v", got)
	}
	cancel()
	<-done
}
