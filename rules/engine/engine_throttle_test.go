package engine_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/throttle"
	"github.com/gusthub/gust/rules/engine"
)

// TestFeedEventsOverFiresPerMinuteWait: feed events over the namespace's
// firesPerMinute are not dropped: they wait for the next minute, run then
// (each once), and their trigger records say they were throttled. The
// clock is set a second before a minute ends so the waits are short.
func TestFeedEventsOverFiresPerMinuteWait(t *testing.T) {
	ctx := t.Context()
	h, acts, store := testStores(t, "echo")
	putTrigger(t, store, "feed", "echo", nil)
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 6, 1, 0, 59, 0, time.UTC).UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	const limit, events = 3, 8
	th, err := throttle.Open(ctx, h.JetStream(), throttle.Options{Defaults: throttle.Limits{FiresPerMinute: limit}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	c := newCapture()
	counted := &refusals{Throttle: th}
	e := engine.New(h.JetStream(), store, acts, c, c, nil).SetThrottle(counted)
	e.SetNow(clock)
	startEngine(t, e)
	for i := range events {
		ev := cloudevents.NewEvent()
		ev.SetID("delivery-" + string(rune('a'+i)))
		ev.SetSource("https://github.com/gusthub/gust")
		ev.SetType("com.github.push")
		_ = ev.SetData("application/json", map[string]int{"n": i})
		if err := hub.PublishEvent(ctx, h.JetStream(), "guest", "feed", ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Minute by minute, the limit's worth runs, until all have.
	ran := 0
	for minute := 0; ran < events; minute++ {
		if minute > events {
			t.Fatalf("%d of %d events ran after %d minutes", ran, events, minute)
		}
		want := min(ran+limit, events)
		invs, recs := c.waitRecords(t, want)
		if len(recs) != want || len(invs) != want {
			t.Fatalf("minute %d: %d records and %d invocations, want %d (the limit is %d a minute)", minute, len(recs), len(invs), want, limit)
		}
		ran = want
		// The others have been held back this minute before it ends.
		for deadline := time.Now().Add(20 * time.Second); counted.since(minute) < events-ran; {
			if time.Now().After(deadline) {
				t.Fatalf("minute %d: %d events held back, want %d", minute, counted.since(minute), events-ran)
			}
			time.Sleep(10 * time.Millisecond)
		}
		counted.next()
		now.Add(time.Minute.Milliseconds()) // the held events come back within 3 s
	}
	_, recs := c.waitRecords(t, events)
	seen, throttled := map[string]bool{}, 0
	for _, r := range recs {
		if seen[r.ActivationID] {
			t.Errorf("event ran twice: %s", r.ActivationID)
		}
		seen[r.ActivationID] = true
		if r.Annotations.Has("throttled") {
			throttled++
		}
	}
	if throttled != events-limit {
		t.Errorf("%d records say throttled, want %d", throttled, events-limit)
	}
}

// refusals counts the events a throttle refused, per minute of the test.
type refusals struct {
	*throttle.Throttle
	mu      sync.Mutex
	minute  int
	refused map[int]int
}

func (r *refusals) Allow(ctx context.Context, rate throttle.Rate, ns string) error {
	err := r.Throttle.Allow(ctx, rate, ns)
	var over *throttle.RateError
	if errors.As(err, &over) {
		r.mu.Lock()
		if r.refused == nil {
			r.refused = map[int]int{}
		}
		r.refused[r.minute]++
		r.mu.Unlock()
	}
	return err
}

func (r *refusals) since(minute int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused[minute]
}

func (r *refusals) next() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.minute++
}
