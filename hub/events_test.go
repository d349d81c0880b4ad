package hub_test

import (
	"context"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// TestEventDedupBySourceAndID: a redelivered event (same source and id) is
// dropped; another producer's event with the same id is not.
func TestEventDedupBySourceAndID(t *testing.T) {
	ctx := context.Background()
	h, st := hubtest.Events(t)
	js := h.JetStream()
	send := func(source string) {
		e := event.New()
		e.SetID("1")
		e.SetSource(source)
		e.SetType("com.example.t")
		if err := hub.PublishEvent(ctx, js, "guest", "t", e, nil); err != nil {
			t.Fatal(err)
		}
	}
	send("/producer/a")
	send("/producer/a") // a redelivery
	send("/producer/b")
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("%d events stored, want 2 (one per source)", info.State.Msgs)
	}
}
