package alarms_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
	_ "github.com/gusthub/gust/feeds/alarms"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/feedrun"
)

// countingPublisher publishes through the hub and counts every publish
// per event id, duplicates included, across the processes that share it.
type countingPublisher struct {
	pub *hub.Publisher
	mu  sync.Mutex
	ids map[string]int
}

func (c *countingPublisher) Publish(ctx context.Context, ns, trigger string, e event.Event, extra map[string]string) error {
	c.mu.Lock()
	c.ids[e.ID()]++
	c.mu.Unlock()
	return c.pub.Publish(ctx, ns, trigger, e, extra)
}

// TestTwoProcessesFireEachSlotOnce: two Gust processes on one NATS run an
// every-second alarm; each slot is fired by exactly one of them, also when
// the owner stops and the other takes the feed over.
func TestTwoProcessesFireEachSlotOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on the real clock for a few seconds")
	}
	ctx := context.Background()
	h, err := hub.Start(ctx, hub.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	h2, err := hub.Start(ctx, hub.Options{URL: h.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h2.Close() })
	if _, err := hub.OpenEvents(ctx, h.JetStream()); err != nil {
		t.Fatal(err)
	}
	counts := &countingPublisher{pub: hub.NewPublisher(h.JetStream()), ids: map[string]int{}}

	start := func(hh *hub.Hub) (*feeds.Manager, context.CancelFunc, chan struct{}) {
		m, err := feeds.Open(ctx, feeds.Options{JetStream: hh.JetStream(), Events: counts, Triggers: feedrun.Triggers(t, hh),
			LeaseTTL: 900 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = m.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })
		return m, cancel, done
	}
	a, stopA, doneA := start(h)
	start(h2)

	tr := feedrun.PutTrigger(t, h, "tick")
	params := feeds.Params{}
	params.Set("cron", "* * * * * *")
	if _, err := a.Lifecycle(ctx, feeds.Request{Event: feeds.Create, Feed: "alarms/alarm", Trigger: tr, Params: params}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	stopA() // a may or may not be the owner: either way the feed goes on
	<-doneA
	time.Sleep(2500 * time.Millisecond)

	counts.mu.Lock()
	defer counts.mu.Unlock()
	var slots []time.Time
	for id, n := range counts.ids {
		if n != 1 {
			t.Errorf("slot %s fired %d times", id, n)
		}
		_, at, _ := strings.Cut(id, "@")
		ts, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			t.Fatalf("event id %q: %v", id, err)
		}
		slots = append(slots, ts)
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].Before(slots[j]) })
	if len(slots) < 3 {
		t.Fatalf("only %d slots fired in 5 s: %v", len(slots), slots)
	}
	for i := 1; i < len(slots); i++ {
		if d := slots[i].Sub(slots[i-1]); d != time.Second {
			t.Errorf("slots %s and %s are %v apart: a slot was lost at the takeover", slots[i-1], slots[i], d)
		}
	}
}
