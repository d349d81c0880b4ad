package throttle_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/hub/throttle"
)

// clock is a settable test clock.
type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time      { return time.UnixMilli(c.now.Load()) }
func (c *clock) add(d time.Duration) { c.now.Add(d.Milliseconds()) }

// open returns n throttles on one hub, as n processes of a deployment
// have, sharing clk.
func open(t *testing.T, n int, defaults throttle.Limits, clk *clock) []*throttle.Throttle {
	t.Helper()
	h := hubtest.Start(t)
	out := make([]*throttle.Throttle, n)
	for i := range out {
		th, err := throttle.Open(context.Background(), h.JetStream(), throttle.Options{Defaults: defaults, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = th
	}
	return out
}

func newClock() *clock {
	c := &clock{}
	c.now.Store(time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC).UnixMilli())
	return c
}

// wantRate checks that err is a RateError with count and allowed.
func wantRate(t *testing.T, err error, count, allowed int) {
	t.Helper()
	var re *throttle.RateError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want a RateError", err)
	}
	if re.Count != count || re.Allowed != allowed || re.HTTPStatus() != 429 {
		t.Errorf("got %+v (%d), want count %d allowed %d, 429", re, re.HTTPStatus(), count, allowed)
	}
}

func TestRateAtTheLimitAndNotBefore(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	for _, tc := range []struct {
		name      string
		processes int
		limit     int
	}{
		{"one process", 1, 100},
		{"two processes alternating", 2, 100},
		{"three processes, small limit", 3, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ths := open(t, tc.processes, throttle.Limits{InvocationsPerMinute: tc.limit}, clk)
			for i := range tc.limit {
				if err := ths[i%len(ths)].Allow(ctx, throttle.Invocations, "guest"); err != nil {
					t.Fatalf("request %d of %d: %v", i+1, tc.limit, err)
				}
			}
			err := ths[tc.limit%len(ths)].Allow(ctx, throttle.Invocations, "guest")
			wantRate(t, err, tc.limit+1, tc.limit)
			if err.Error() != "Too many requests in the last minute (count: "+itoa(tc.limit+1)+", allowed: "+itoa(tc.limit)+")." {
				t.Errorf("message %q", err)
			}
			// Another namespace and the other rate count apart.
			if err := ths[0].Allow(ctx, throttle.Invocations, "other"); err != nil {
				t.Errorf("other namespace: %v", err)
			}
			if err := ths[0].Allow(ctx, throttle.Fires, "guest"); err != nil {
				t.Errorf("fires, with no fire limit: %v", err)
			}
			clk.add(time.Minute)
			if err := ths[0].Allow(ctx, throttle.Invocations, "guest"); err != nil {
				t.Errorf("next minute: %v", err)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestRateConcurrent: goroutines of two processes asking at once get
// exactly the limit between them.
func TestRateConcurrent(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	const limit = 150
	ths := open(t, 2, throttle.Limits{FiresPerMinute: limit}, clk)
	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				err := ths[g%2].Allow(ctx, throttle.Fires, "guest")
				var re *throttle.RateError
				switch {
				case err == nil:
					allowed.Add(1)
				case errors.As(err, &re):
					refused.Add(1)
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if allowed.Load() > limit || allowed.Load()+refused.Load() != 320 {
		t.Errorf("allowed %d, refused %d of 320 with limit %d", allowed.Load(), refused.Load(), limit)
	}
	// Tokens a process reserved and has not spent yet are the only
	// shortfall: a sixteenth of what was left at most, per process.
	if allowed.Load() < limit-2*(limit/16) {
		t.Errorf("allowed %d, want close to %d", allowed.Load(), limit)
	}
}

func TestConcurrency(t *testing.T) {
	ctx := context.Background()
	ths := open(t, 2, throttle.Limits{ConcurrentInvocations: 3}, newClock())
	for i := range 3 {
		held, err := ths[i%2].Acquire(ctx, "guest")
		if err != nil || !held {
			t.Fatalf("slot %d: held %v, %v", i+1, held, err)
		}
	}
	_, err := ths[1].Acquire(ctx, "guest")
	var ce *throttle.ConcurrencyError
	if !errors.As(err, &ce) || ce.Count != 3 || ce.Allowed != 3 || ce.HTTPStatus() != 429 ||
		err.Error() != "Too many concurrent requests in flight (count: 3, allowed: 3)." {
		t.Fatalf("fourth: %v", err)
	}
	// A slot taken in one process is given back by another.
	if err := ths[1].Release(ctx, "guest"); err != nil {
		t.Fatal(err)
	}
	if n, err := ths[0].InFlight(ctx, "guest"); err != nil || n != 2 {
		t.Errorf("in flight %d, %v; want 2", n, err)
	}
	if held, err := ths[0].Acquire(ctx, "guest"); err != nil || !held {
		t.Errorf("after a release: held %v, %v", held, err)
	}
	// No limit: no slot.
	if held, err := ths[0].Acquire(ctx, "other"); err != nil || !held {
		t.Errorf("other, under the default: held %v, %v", held, err)
	}
	for range 5 { // more releases than slots never go below zero
		if err := ths[0].Release(ctx, "other"); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := ths[0].InFlight(ctx, "other"); n != 0 {
		t.Errorf("other in flight %d after releases", n)
	}
}

func TestSetLimits(t *testing.T) {
	ctx := context.Background()
	defaults := throttle.Limits{InvocationsPerMinute: 120, FiresPerMinute: 60}
	ths := open(t, 2, defaults, newClock())
	got, err := ths[0].SetLimits(ctx, "guest", throttle.Update{InvocationsPerMinute: new(2), ConcurrentInvocations: new(5)})
	if err != nil {
		t.Fatal(err)
	}
	if want := (throttle.Limits{InvocationsPerMinute: 2, ConcurrentInvocations: 5, FiresPerMinute: 60}); got != want {
		t.Errorf("set: %+v, want %+v", got, want)
	}
	got, err = ths[0].SetLimits(ctx, "guest", throttle.Update{FiresPerMinute: new(9)})
	if err != nil {
		t.Fatal(err)
	}
	if want := (throttle.Limits{InvocationsPerMinute: 2, ConcurrentInvocations: 5, FiresPerMinute: 9}); got != want {
		t.Errorf("second set keeps the first's: %+v, want %+v", got, want)
	}
	if l, err := ths[0].Limits(ctx, "other"); err != nil || l != defaults {
		t.Errorf("other: %+v, %v; want the defaults", l, err)
	}
	// The other process sees the change (at once here: it had not read it).
	if l, err := ths[1].Limits(ctx, "guest"); err != nil || l.InvocationsPerMinute != 2 {
		t.Errorf("other process: %+v, %v", l, err)
	}
	for range 2 {
		if err := ths[1].Allow(ctx, throttle.Invocations, "guest"); err != nil {
			t.Fatal(err)
		}
	}
	wantRate(t, ths[0].Allow(ctx, throttle.Invocations, "guest"), 3, 2)

	// 0 removes a limit of the namespace's own: the default holds again,
	// or none.
	got, err = ths[0].SetLimits(ctx, "guest", throttle.Update{InvocationsPerMinute: new(0), ConcurrentInvocations: new(0)})
	if err != nil {
		t.Fatal(err)
	}
	if want := (throttle.Limits{InvocationsPerMinute: 120, FiresPerMinute: 9}); got != want {
		t.Errorf("removed: %+v, want %+v", got, want)
	}
	if err := ths[0].Allow(ctx, throttle.Invocations, "guest"); err != nil {
		t.Errorf("after the limit was removed: %v", err)
	}
	got, err = ths[0].SetLimits(ctx, "guest", throttle.Update{FiresPerMinute: new(0)})
	if err != nil || got != defaults {
		t.Errorf("all removed: %+v, %v; want the defaults", got, err)
	}
}
