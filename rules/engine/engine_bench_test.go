package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/procs"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
)

// BenchmarkRuleLookup measures what the engine spends per event, its
// invocations queued to an activator that only counts them, with 10,000
// triggers and 10,000 rules stored (each trigger with one rule to its own
// action), against the floor of the same with 10 of each: the per-event
// cost of finding an event's trigger, rules and actions should not grow
// with the store. Figures are µs per event, events drained in bursts.
// Both send their events to ten triggers, so that the event stream's work
// is the same.
func BenchmarkRuleLookup(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	const events = 2000
	large := lookupRig(b, 10000)
	small := lookupRig(b, 10)
	large.drain(b, events) // warm up both: the engine has loaded its store
	small.drain(b, events)
	for range b.N {
		b.ReportMetric(large.drain(b, events), "µs/event")
		b.ReportMetric(small.drain(b, events), "floor-µs/event")
	}
}

// lookupTarget is an engine over n triggers, rules and actions.
type lookupTarget struct {
	js       *hub.Hub
	n        int
	rec      *recorder
	sequence int
}

func lookupRig(b *testing.B, n int) *lookupTarget {
	b.Helper()
	ctx := context.Background()
	h, acts, store := testStores(b)
	if _, err := hub.OpenEvents(ctx, h.JetStream()); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("x%05d", i)
		a := &actions.Action{Namespace: "guest", Name: name, Version: "0.0.1", Exec: actions.Exec{Kind: "nodejs:20", Code: "function main(p) { return p }"}}
		if _, err := acts.PutAction(ctx, a, 0); err != nil {
			b.Fatal(err)
		}
		ref := rules.Ref{Path: "guest", Name: name}
		t := &rules.Trigger{Namespace: "guest", Name: name, Version: "0.0.1", Rules: map[string]rules.Link{
			"guest/" + name: {Action: ref, Status: rules.StatusActive},
		}}
		if _, err := store.PutTrigger(ctx, t, 0); err != nil {
			b.Fatal(err)
		}
		r := &rules.Rule{Namespace: "guest", Name: name, Version: "0.0.1", Trigger: rules.Ref{Path: "guest", Name: name}, Action: ref}
		if _, err := store.PutRule(ctx, r, 0); err != nil {
			b.Fatal(err)
		}
	}
	rec := &recorder{records: make(chan *actions.Activation, 1024)}
	engCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- engine.New(h.JetStream(), store, acts, rec, rec, nil).Run(engCtx) }()
	b.Cleanup(func() { stop(); <-done })
	return &lookupTarget{js: h, n: n, rec: rec}
}

// drain publishes events to ten triggers spread over the store (the same
// event subjects whatever its size), waits for their trigger records and
// returns the time per event in µs.
func (l *lookupTarget) drain(b *testing.B, events int) float64 {
	b.Helper()
	ctx := context.Background()
	t0 := time.Now()
	for range events {
		l.sequence++
		ev := event.New()
		ev.SetID(fmt.Sprint("e", l.sequence))
		ev.SetSource("/bench")
		ev.SetType("dev.gust.bench")
		name := fmt.Sprintf("x%05d", l.sequence*7919%10*(l.n/10)) // ten triggers spread over the store
		if err := hub.PublishEvent(ctx, l.js.JetStream(), "guest", name, ev, map[string]string{hub.HeaderActivationID: actions.NewActivationID()}); err != nil {
			b.Fatal(err)
		}
	}
	for range events {
		select {
		case a := <-l.rec.records:
			if len(a.Logs) != 1 {
				b.Fatalf("record logs %q", a.Logs)
			}
		case <-time.After(time.Minute):
			b.Fatal("events not processed within a minute")
		}
	}
	return float64(time.Since(t0).Microseconds()) / float64(events)
}
