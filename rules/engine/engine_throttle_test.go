package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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

// TestRuleInvocationsThrottled: the invocations rules start count against
// the namespace's invocationsPerMinute and concurrentInvocations, as
// invokes through the API do. A rule over a limit does not run: its line in
// the trigger's record has status 429 and OpenWhisk's message, and the
// event is not handed back (it was handled).
func TestRuleInvocationsThrottled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  throttle.Limits
		ran     int
		message string // a pattern: the per-minute count goes on counting the refused
	}{
		{"per minute", throttle.Limits{InvocationsPerMinute: 2}, 2, `^Too many requests in the last minute \(count: [34], allowed: 2\)\.$`},
		{"concurrent", throttle.Limits{ConcurrentInvocations: 1}, 1, `^Too many concurrent requests in flight \(count: 1, allowed: 1\)\.$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			h, acts, store := testStores(t, "echo")
			putTrigger(t, store, "feed", "echo", nil)
			clock := func() time.Time { return time.Date(2026, 12, 6, 1, 0, 1, 0, time.UTC) } // one minute for the whole test
			th, err := throttle.Open(ctx, h.JetStream(), throttle.Options{Defaults: tc.limits, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			c := newCapture() // its invocations never complete: their slots stay taken
			e := engine.New(h.JetStream(), store, acts, c, c, nil).SetThrottle(th)
			e.SetNow(clock)
			startEngine(t, e)
			const events = 4
			for i := range events {
				ev := cloudevents.NewEvent()
				ev.SetID(fmt.Sprintf("delivery-%d", i))
				ev.SetSource("https://github.com/gusthub/gust")
				ev.SetType("com.github.push")
				_ = ev.SetData("application/json", map[string]int{"n": i})
				if err := hub.PublishEvent(ctx, h.JetStream(), "guest", "feed", ev, nil); err != nil {
					t.Fatal(err)
				}
			}
			invs, recs := c.waitRecords(t, events)
			if len(invs) != tc.ran {
				t.Errorf("%d invocations, want %d", len(invs), tc.ran)
			}
			refused := 0
			for _, r := range recs {
				if len(r.Logs) != 1 {
					t.Fatalf("record %s has %d rule lines, want 1", r.ActivationID, len(r.Logs))
				}
				var line struct {
					StatusCode int    `json:"statusCode"`
					Success    bool   `json:"success"`
					Error      string `json:"error"`
				}
				if err := json.Unmarshal([]byte(r.Logs[0]), &line); err != nil {
					t.Fatal(err)
				}
				if !line.Success {
					refused++
					if line.StatusCode != 429 || !regexp.MustCompile(tc.message).MatchString(line.Error) {
						t.Errorf("refused rule line %s, want status 429 and %q", r.Logs[0], tc.message)
					}
				}
			}
			if refused != events-tc.ran {
				t.Errorf("%d rules refused, want %d", refused, events-tc.ran)
			}
			if tc.limits.ConcurrentInvocations > 0 {
				for _, inv := range invs {
					if !inv.Slot {
						t.Errorf("invocation %s holds no concurrency slot", inv.ActivationID)
					}
				}
				if n, err := th.InFlight(ctx, "guest"); err != nil || n != tc.ran {
					t.Errorf("in flight %d (%v), want %d: slots taken and not given back", n, err, tc.ran)
				}
			}
		})
	}
}
