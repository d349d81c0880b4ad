package invoker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// burst runs n blocking invokes of a at once, each with params, and
// returns the containers that served them (by hostname) and how long the
// burst took. Every invoke must succeed.
func burst(tb testing.TB, s *stack, a *actions.Action, n int, params string) (hosts map[string]int, took time.Duration) {
	tb.Helper()
	recs := make([]*actions.Activation, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i], errs[i] = s.activate("", a, params, 2*time.Minute)
		}()
	}
	wg.Wait()
	took = time.Since(t0)
	hosts = map[string]int{}
	for i := range n {
		if errs[i] != nil || recs[i] == nil {
			tb.Fatalf("invoke %d of %d: record %v, err %v", i, n, recs[i], errs[i])
		}
		var c counted
		result(tb, recs[i], &c)
		hosts[c.Host]++
	}
	return hosts, took
}

// burstStack is a stack whose invoker has run another action once, as
// an invoker in use has: its runtime image is built and the pool has
// measured a cold start.
func burstStack(tb testing.TB) *stack {
	tb.Helper()
	s := newStack(tb, stackOptions{})
	other := s.put(tb, action{name: "other", code: counterCode})
	if rec := s.invoke(tb, "", other, ""); rec.Response.StatusCode != actions.StatusSuccess {
		tb.Fatalf("first invoke: %s", rec.Response.Result)
	}
	return s
}

// TestBurstOfFastActionStartsFewContainers: 30 invokes at once of an action
// that runs in a millisecond, on an invoker with no container yet and
// memory for 8, wait for the first container rather than cold-starting
// one each: a cold start takes far longer than the whole line runs.
// (With 50, a CI machine loaded by other packages' tests once ran the
// line longer than a cold start, which the pool rightly took for a load
// that lasts, and started 4; 3 still tells waiting from starting 8.)
func TestBurstOfFastActionStartsFewContainers(t *testing.T) {
	const n, most = 30, 3
	s := burstStack(t)
	a := s.put(t, action{name: "fast", code: counterCode})
	hosts, took := burst(t, s, a, n, "")
	t.Logf("%d invokes of a no-op: %d containers %v in %v", n, len(hosts), hosts, took)
	if len(hosts) > most {
		t.Errorf("%d invokes of a no-op ran in %d containers in %v, want at most %d: %v", n, len(hosts), took, most, hosts)
	}
	if c := len(s.containers(t)) - 1; c > most {
		t.Errorf("%d containers started, want at most %d", c, most)
	}
}

// TestBurstOfSlowActionScalesOut: a burst of an action that sleeps 200 ms
// still spreads over several containers, up to the pool's memory: its
// line (64 invokes, the invoker's default in flight, 12.8 s of work) is
// far longer than a cold start, even on a loaded machine.
func TestBurstOfSlowActionScalesOut(t *testing.T) {
	s := burstStack(t)
	a := s.put(t, action{name: "slow", code: counterCode})
	hosts, took := burst(t, s, a, 64, `{"sleep":200}`)
	t.Logf("64 invokes sleeping 200 ms: %d containers %v in %v", len(hosts), hosts, took)
	if len(hosts) < 4 {
		t.Errorf("64 invokes of an action sleeping 200 ms ran in %d containers in %v, want at least 4 of the 8 that fit: %v", len(hosts), took, hosts)
	}
}

// TestLastingLoadOfIOBoundActionScalesOut: 16 clients invoking an action
// that sleeps 50 ms, each again as soon as it has its result, are a load
// that lasts: the pool scales out to its memory (8 containers) though the
// line at any moment would drain on 2 before a cold start ends.
func TestLastingLoadOfIOBoundActionScalesOut(t *testing.T) {
	const clients, each = 16, 20
	s := burstStack(t)
	a := s.put(t, action{name: "io", code: counterCode})
	var mu sync.Mutex
	hosts := map[string]int{}
	var wg sync.WaitGroup
	t0 := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				rec, err := s.activate("", a, `{"sleep":50}`, time.Minute)
				if err != nil || rec == nil {
					t.Errorf("invoke: record %v, err %v", rec, err)
					return
				}
				var c counted
				result(t, rec, &c)
				mu.Lock()
				hosts[c.Host]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d clients × %d invokes sleeping 50 ms: %d containers %v in %v", clients, each, len(hosts), hosts, time.Since(t0))
	if len(hosts) < 6 {
		t.Errorf("a lasting load of 16 clients ran in %d containers, want at least 6 of the 8 that fit: %v", len(hosts), hosts)
	}
}

// BenchmarkBurst runs 50 blocking invokes at once of an action that has
// no container yet, on an invoker with memory for 8, and reports the
// containers they ran in and the burst's duration, against the floor of
// one cold invoke of another such action in the same run: the best a
// burst can do is about one cold start and its line's run time.
func BenchmarkBurst(b *testing.B) {
	for _, bc := range []struct{ name, params string }{
		{"noop", ""},
		{"sleep200ms", `{"sleep":200}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const n = 50
			s := burstStack(b)
			b.ResetTimer()
			for i := range b.N {
				one := s.put(b, action{name: fmt.Sprintf("one%d", i), code: counterCode})
				t0 := time.Now()
				s.invoke(b, "", one, bc.params)
				floor := time.Since(t0)
				a := s.put(b, action{name: fmt.Sprintf("burst%d", i), code: counterCode})
				hosts, took := burst(b, s, a, n, bc.params)
				b.ReportMetric(float64(len(hosts)), "containers")
				b.ReportMetric(float64(took.Milliseconds()), "burst-ms")
				b.ReportMetric(float64(floor.Milliseconds()), "floor-burst-ms") // one cold invoke
			}
		})
	}
}
