package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules/engine"
)

// flakyRecords is the real activation store, whose batched writes of the
// records of trigger failing fail the first time for each activation.
type flakyRecords struct {
	*actions.ActivationStore
	failing string
	mu      sync.Mutex
	tries   map[string]int // by activation id
}

func (f *flakyRecords) PutIn(b *hub.Batch, a *actions.Activation, enc []byte) func(context.Context) error {
	f.mu.Lock()
	f.tries[a.ActivationID]++
	first := f.tries[a.ActivationID] == 1
	f.mu.Unlock()
	if a.Name == f.failing && first {
		return func(context.Context) error { return errors.New("no space left on device") }
	}
	return f.ActivationStore.PutIn(b, a, enc)
}

// openQueueAndRecords opens the invocation queue and the activation store
// on js.
func openQueueAndRecords(t *testing.T, js jetstream.JetStream) *actions.ActivationStore {
	t.Helper()
	if _, err := hub.OpenInvocations(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	recs, err := actions.OpenActivationStore(t.Context(), js, actions.ActivationRetention{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestEngineBatchAcksEachEvent: events processed in the same batches, with
// the production dispatcher and record store, are acknowledged each once
// its own writes are stored. The events whose trigger record failed come
// again and are then recorded, while the others are not processed twice;
// the invocations of both are on the work queue once each.
func TestEngineBatchAcksEachEvent(t *testing.T) {
	ctx := t.Context()
	h, acts, store := testStores(t, "echo")
	js := h.JetStream()
	recs := openQueueAndRecords(t, js)
	putTrigger(t, store, "good", "echo", nil)
	putTrigger(t, store, "bad", "echo", nil)
	flaky := &flakyRecords{ActivationStore: recs, failing: "bad", tries: map[string]int{}}
	startEngine(t, engine.New(js, store, acts, dispatch.New(h, acts, recs, nil), flaky, nil))

	const n = 100 // half to each trigger, interleaved, so that batches hold both
	for i := range n {
		ev := cloudevents.NewEvent()
		ev.SetID(fmt.Sprint("e-", i))
		ev.SetSource("/test")
		ev.SetType("dev.gust.test")
		if err := hub.PublishEvent(ctx, js, "guest", []string{"good", "bad"}[i%2], ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	invocations, err := js.Stream(ctx, hub.InvocationsStream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, hub.EventsStream, hub.RulesConsumer)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, total, err := recs.List(ctx, actions.Query{Namespace: "guest", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if total == n && ci.NumAckPending == 0 && ci.NumPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d trigger records, %d events unacknowledged, %d not delivered after 30 s", total, n, ci.NumAckPending, ci.NumPending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	si, err := invocations.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs != n {
		t.Errorf("%d invocations queued, want %d: one per event, a redelivered event's dropped as a duplicate", si.State.Msgs, n)
	}
	flaky.mu.Lock()
	defer flaky.mu.Unlock()
	if len(flaky.tries) != n {
		t.Fatalf("records of %d activations written, want %d", len(flaky.tries), n)
	}
	for id, k := range flaky.tries {
		rec, err := recs.Get(ctx, "guest", id)
		if err != nil {
			t.Errorf("trigger record %s: %v", id, err)
			continue
		}
		if (rec.Name == "bad") != (k == 2) || k > 2 {
			t.Errorf("record %s of trigger %s written %d times; want twice for bad (failed, then redelivered), once for good", id, rec.Name, k)
		}
	}
}
