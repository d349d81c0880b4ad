package hub_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// batchConsumer creates stream C (subjects c.>) with n messages and a
// durable consumer of it.
func batchConsumer(t *testing.T, js jetstream.JetStream, n int) (jetstream.Stream, jetstream.Consumer) {
	t.Helper()
	ctx := t.Context()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "C", Subjects: []string{"c.>"}})
	if err != nil {
		t.Fatal(err)
	}
	b := hub.NewBatch(js)
	for i := range n {
		b.Publish(nats.NewMsg(fmt.Sprint("c.", i)))
	}
	if err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return st, cons
}

// TestConsumeBatches: every message is handed to work once, in batches of
// at most maxBatch that grow while work is busy, with at most inFlight
// batches at once; when the context ends, what was fetched and not taken
// goes back to the stream, and the loop returns nil.
func TestConsumeBatches(t *testing.T) {
	const n, maxBatch, inFlight = 500, 64, 2
	h := hubtest.Start(t)
	_, cons := batchConsumer(t, h.JetStream(), n)
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var mu sync.Mutex
	seen := map[string]int{}
	busy, maxBusy, largest := 0, 0, 0
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- hub.ConsumeBatches(ctx, it, maxBatch, inFlight, "C", slog.New(slog.DiscardHandler), func(_ context.Context, msgs []jetstream.Msg) {
			mu.Lock()
			busy++
			maxBusy, largest = max(maxBusy, busy), max(largest, len(msgs))
			first := len(seen) == 0
			for _, m := range msgs {
				seen[m.Subject()]++
			}
			mu.Unlock()
			if first {
				<-release // the messages pile up behind the first batch
			}
			for _, m := range msgs {
				_ = m.Ack()
			}
			mu.Lock()
			busy--
			mu.Unlock()
		})
	}()
	time.Sleep(200 * time.Millisecond)
	close(release)
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("ConsumeBatches = %v after its context ended, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("%d of %d messages handed to work", len(seen), n)
	}
	for s, k := range seen {
		if k != 1 {
			t.Fatalf("message %s handed to work %d times", s, k)
		}
	}
	if largest < 2 || largest > maxBatch || maxBusy > inFlight {
		t.Fatalf("largest batch %d, batches at once %d; want batches of 2 to %d while work is busy, at most %d at once", largest, maxBusy, maxBatch, inFlight)
	}
}

// TestConsumeBatchesHandBack: messages fetched but not taken when the
// context ends are handed back and delivered again; a deleted consumer
// ends the loop with an error.
func TestConsumeBatchesHandBack(t *testing.T) {
	const n = 100
	h := hubtest.Start(t)
	st, cons := batchConsumer(t, h.JetStream(), n)
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	var acked sync.Map
	took := make(chan struct{}, 1)
	err = hub.ConsumeBatches(ctx, it, 8, 1, "C", slog.New(slog.DiscardHandler), func(_ context.Context, msgs []jetstream.Msg) {
		for _, m := range msgs {
			acked.Store(m.Subject(), true)
			_ = m.Ack()
		}
		select {
		case took <- struct{}{}:
			stop() // after one batch: the others go back
		default:
		}
	})
	if err != nil {
		t.Fatalf("ConsumeBatches = %v, want nil", err)
	}
	first := 0
	acked.Range(func(any, any) bool { first++; return true })
	if first == 0 || first >= n {
		t.Fatalf("%d messages taken before the stop, want some", first)
	}

	// Again: the rest come, once; then the consumer is deleted.
	it, err = cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	rest := make(chan string, n)
	done := make(chan error, 1)
	go func() {
		done <- hub.ConsumeBatches(t.Context(), it, 8, 2, "C", slog.New(slog.DiscardHandler), func(_ context.Context, msgs []jetstream.Msg) {
			for _, m := range msgs {
				if _, again := acked.LoadOrStore(m.Subject(), true); again {
					t.Errorf("message %s delivered again after it was acknowledged", m.Subject())
				}
				rest <- m.Subject()
				_ = m.Ack()
			}
		})
	}()
	for range n - first {
		select {
		case <-rest:
		case <-time.After(20 * time.Second):
			t.Fatal("the messages handed back did not come again")
		}
	}
	if err := st.DeleteConsumer(t.Context(), "c"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, jetstream.ErrConsumerDeleted) && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			t.Fatalf("ConsumeBatches after its consumer was deleted = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ConsumeBatches did not return after its consumer was deleted")
	}
}
