package dispatch

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// invokers are the members a placer sees: one live invoker per load.
func invokers(loads ...hub.Load) func(context.Context) ([]hub.Member, error) {
	return func(context.Context) ([]hub.Member, error) {
		var ms []hub.Member
		for i := range loads {
			ms = append(ms, hub.Member{ID: loads[i].Queue, Role: "invoker", Seen: time.Now(), Invoker: &loads[i]})
		}
		return ms, nil
	}
}

func invocationOf(action string) *actions.Invocation {
	return &actions.Invocation{Namespace: "guest", Action: actions.Action{Namespace: "guest", Name: action}}
}

func TestPlacement(t *testing.T) {
	ctx := context.Background()
	shared := hub.InvocationSubject("guest")
	idle := func(q string) hub.Load { return hub.Load{Queue: q, Slots: 4} }

	if got := (&placer{}).subject(ctx, invocationOf("a")); got != shared {
		t.Errorf("without members: %s, want the shared queue", got)
	}
	if got := (&placer{members: invokers(idle("q1"))}).subject(ctx, invocationOf("a")); got != shared {
		t.Errorf("with one invoker: %s, want the shared queue", got)
	}

	// Each action has one home among the invokers, the same for every
	// controller, and losing another invoker does not move it; the homes
	// spread evenly (each invoker's share of 300 actions near a third).
	homes := map[string]int{}
	for i := range 300 {
		action := fmt.Sprint("a", i)
		// A new placer each time: a placer's own sends fill the slots.
		home := (&placer{members: invokers(idle("q1"), idle("q2"), idle("q3"))}).subject(ctx, invocationOf(action))
		if again := (&placer{members: invokers(idle("q3"), idle("q1"), idle("q2"))}).subject(ctx, invocationOf(action)); again != home {
			t.Fatalf("%s: home %s, another controller says %s", action, home, again)
		}
		homes[home]++
		for _, gone := range []string{"q1", "q2", "q3"} {
			var left []hub.Load
			for _, q := range []string{"q1", "q2", "q3"} {
				if q != gone {
					left = append(left, idle(q))
				}
			}
			if hub.HomeSubject(gone, "guest") == home {
				continue
			}
			if got := (&placer{members: invokers(left...)}).subject(ctx, invocationOf(action)); got != home {
				t.Errorf("%s: home %s moved to %s when %s left", action, home, got, gone)
			}
		}
	}
	for _, q := range []string{"q1", "q2", "q3"} {
		if n := homes[hub.HomeSubject(q, "guest")]; n < 80 {
			t.Errorf("%s is home to %d of 300 actions, want about 100: %v", q, n, homes)
		}
	}

	// Warm containers win over the home; a busy invoker is skipped; when
	// every invoker is busy, the shared queue takes the overflow.
	warm := idle("q2")
	warm.Warm = map[string]int{"/guest/a": 2}
	lukewarm := idle("q3")
	lukewarm.Warm = map[string]int{"/guest/a": 1}
	if got := (&placer{members: invokers(idle("q1"), warm, lukewarm)}).subject(ctx, invocationOf("a")); got != hub.HomeSubject("q2", "guest") {
		t.Errorf("with warm containers on q2: %s, want q2's home queue", got)
	}
	warm.InFlight = warm.Slots
	if got := (&placer{members: invokers(idle("q1"), warm, lukewarm)}).subject(ctx, invocationOf("a")); got != hub.HomeSubject("q3", "guest") {
		t.Errorf("with q2 busy: %s, want q3's home queue, the next warmest", got)
	}
	busy := func(q string) hub.Load { return hub.Load{Queue: q, Slots: 4, InFlight: 4} }
	if got := (&placer{members: invokers(busy("q1"), busy("q2"))}).subject(ctx, invocationOf("a")); got != shared {
		t.Errorf("with every invoker busy: %s, want the shared queue", got)
	}
}

// An invoker that stopped advertising, or has no home queue yet, is no
// candidate.
func TestPlacementSkipsStaleInvokers(t *testing.T) {
	ctx := context.Background()
	live := hub.Load{Queue: "q1", Slots: 4}
	stale := hub.Load{Queue: "q2", Slots: 4, Warm: map[string]int{"/guest/a": 5}}
	unready := hub.Load{Slots: 4, Warm: map[string]int{"/guest/a": 5}}
	other := hub.Load{Queue: "q3", Slots: 4}
	p := &placer{members: func(context.Context) ([]hub.Member, error) {
		return []hub.Member{
			{Invoker: &live, Seen: time.Now()},
			{Invoker: &stale, Seen: time.Now().Add(-time.Minute)},
			{Invoker: &unready, Seen: time.Now()},
			{Invoker: &other, Seen: time.Now()},
			{Role: "controller", Seen: time.Now()},
		}, nil
	}}
	got := p.subject(ctx, invocationOf("a"))
	if got != hub.HomeSubject("q1", "guest") && got != hub.HomeSubject("q3", "guest") {
		t.Errorf("placed on %s, want q1 or q3, the live invokers with a home queue", got)
	}
}

// A placer counts its own sends against an invoker's slots between its
// adverts: the awaited ones until they complete, the others until the view
// is refreshed. So a stale advert of a free invoker does not draw every
// invocation to it.
func TestPlacementCountsOwnSends(t *testing.T) {
	ctx := context.Background()
	load := func(q string, warm int) hub.Load {
		return hub.Load{Queue: q, Slots: 2, Warm: map[string]int{"/guest/a": warm}}
	}
	p := &placer{members: invokers(load("q1", 2), load("q2", 1), load("q3", 0))}
	var dones []func()
	var got []string
	for range 6 {
		subject, done := p.take(ctx, invocationOf("a"))
		got, dones = append(got, subject), append(dones, done)
	}
	home := func(q string) string { return hub.HomeSubject(q, "guest") }
	want := []string{home("q1"), home("q1"), home("q2"), home("q2"), home("q3"), home("q3")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("6 awaited sends on 3 invokers of 2 slots went to %v, want %v", got, want)
	}
	if got := p.subject(ctx, invocationOf("a")); got != hub.InvocationSubject("guest") {
		t.Errorf("with every slot taken by this placer: %s, want the shared queue", got)
	}
	dones[0]()
	dones[0]() // a second call gives back nothing more
	if got := p.subject(ctx, invocationOf("a")); got != home("q1") {
		t.Errorf("after one on q1 completed: %s, want q1's home queue", got)
	}
	if got := p.subject(ctx, invocationOf("a")); got != hub.InvocationSubject("guest") {
		t.Errorf("after a send not awaited took q1's free slot: %s, want the shared queue", got)
	}
	for _, done := range dones[1:] {
		done()
	}
	p.at = time.Time{} // the next call refreshes the view: sends not awaited no longer count
	if got := p.subject(ctx, invocationOf("a")); got != home("q1") {
		t.Errorf("after a refresh with every awaited send completed: %s, want q1's home queue", got)
	}
}

// A placer is alone, for rules to run in its process (Reserve), only when
// at most one Gust process of any role advertises itself, in a view read
// lately.
func TestAloneCountsEveryLiveProcess(t *testing.T) {
	ctx := context.Background()
	members := func(ms ...hub.Member) func(context.Context) ([]hub.Member, error) {
		return func(context.Context) ([]hub.Member, error) { return ms, nil }
	}
	now := time.Now()
	self := hub.Member{ID: "self", Role: "all", Seen: now, Invoker: &hub.Load{Queue: "q1"}}
	controller := hub.Member{ID: "c", Role: "controller", Seen: now}
	gone := hub.Member{ID: "gone", Role: "all", Seen: now.Add(-time.Minute), Invoker: &hub.Load{Queue: "q2"}}
	for _, c := range []struct {
		name    string
		members func(context.Context) ([]hub.Member, error)
		want    bool
	}{
		{"none advertised yet", members(), true},
		{"itself", members(self), true},
		{"itself and a process gone", members(self, gone), true},
		{"itself and a controller", members(self, controller), false},
		{"two invokers", invokers(hub.Load{Queue: "q1"}, hub.Load{Queue: "q2"}), false},
		{"the view cannot be read", func(context.Context) ([]hub.Member, error) { return nil, errors.New("no responders") }, false},
	} {
		if got := (&placer{members: c.members}).alone(ctx); got != c.want {
			t.Errorf("%s: alone %v, want %v", c.name, got, c.want)
		}
	}
	p := &placer{members: members(self)}
	if !p.alone(ctx) {
		t.Fatal("alone with itself: false")
	}
	p.members = func(context.Context) ([]hub.Member, error) { return nil, errors.New("no responders") }
	p.at = time.Time{} // due for a refresh, which fails
	p.readAt = time.Now().Add(-time.Minute)
	if p.alone(ctx) {
		t.Error("alone on a view last read a minute ago, want not: another process may have come since")
	}
}
