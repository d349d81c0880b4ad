package invoker_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/procs"
	"github.com/gusthub/gust/invoker"
)

// Benchmarks measure a fixed number of operations whatever b.N is, so that
// `make bench` (-benchtime 1x) gives stable figures; they report them with
// b.ReportMetric, each next to its floor measured in the same run.

const noopCode = `function main() { return {}; }`

// percentile returns the p-th percentile of sorted d.
func percentile(d []time.Duration, p int) time.Duration {
	return d[min(len(d)*p/100, len(d)-1)]
}

func reportLatencies(b *testing.B, unitPrefix string, d []time.Duration, scale time.Duration, unit string) {
	slices.Sort(d)
	b.ReportMetric(float64(percentile(d, 50))/float64(scale), unitPrefix+"p50-"+unit)
	b.ReportMetric(float64(percentile(d, 99))/float64(scale), unitPrefix+"p99-"+unit)
}

// warmLease leases the warm container that serves a's activations in
// namespace guest. The caller releases it.
func warmLease(b *testing.B, s *stack, a *actions.Action) *invoker.Lease {
	b.Helper()
	inv := &actions.Invocation{Namespace: "guest", Action: *a}
	spec := invoker.Spec{Kind: a.Exec.Kind, MemoryMB: a.Limits.Memory}
	l, err := s.pool.Acquire(context.Background(), invoker.Request{Key: invoker.WarmKey(inv), Spec: spec, Concurrency: a.Limits.Concurrency})
	if err != nil {
		b.Fatal(err)
	}
	if l.Cold {
		b.Fatal("no warm container to lease")
	}
	return l
}

// runBody is a /run request like the invoker's.
func runBody(a *actions.Action) []byte {
	return fmt.Appendf(nil, `{"value":{},"namespace":"guest","action_name":"/guest/%s","action_version":%q,"activation_id":"0123456789abcdef0123456789abcdef","transaction_id":"t","deadline":"%d"}`,
		a.Name, a.Version, time.Now().Add(time.Minute).UnixMilli())
}

func directRun(b *testing.B, c invoker.Container, body []byte) {
	req, err := http.NewRequest(http.MethodPost, c.BaseURL()+"/run", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("/run: %s", resp.Status)
	}
}

// BenchmarkWarmInvoke is a warm blocking invoke of a nodejs no-op action
// through the API (POST ?blocking=true&result=true), against the floor of
// a direct /run round trip to the same warm container. The two alternate
// in rounds, so that a machine whose speed drifts during the run (a busy
// VM host) slows both alike and their ratio holds.
func BenchmarkWarmInvoke(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	const rounds, perRound = 10, 200
	s := newStack(b, stackOptions{})
	srv := serveAPI(b, s)
	c := srv.Client()
	a := s.put(b, action{name: "noop", code: noopCode})
	for range 20 { // cold start, then warm up both sides
		if st, body := postInvoke(b, c, srv, "noop", "blocking=true&result=true", "{}"); st != http.StatusOK {
			b.Fatalf("invoke: %d %s", st, body)
		}
	}
	b.ResetTimer()
	l := warmLease(b, s, a)
	container := l.Container().ID()
	s.pool.Release(l, true)
	body := runBody(a)
	for range b.N {
		var invokes, runs []time.Duration
		invokeCPU, runCPU := newCPUUse(container).profiled(b), newCPUUse(container)
		for range rounds {
			invokeCPU.measure(func() {
				for range perRound {
					t0 := time.Now()
					if st, body := postInvoke(b, c, srv, "noop", "blocking=true&result=true", "{}"); st != http.StatusOK {
						b.Fatalf("invoke: %d %s", st, body)
					}
					invokes = append(invokes, time.Since(t0))
				}
			})
			l := warmLease(b, s, a)
			runCPU.measure(func() {
				for range perRound {
					t0 := time.Now()
					directRun(b, l.Container(), body)
					runs = append(runs, time.Since(t0))
				}
			})
			s.pool.Release(l, true)
		}
		invokeCPU.report(b, "", len(invokes), "invoke")
		runCPU.report(b, "floor-", len(runs), "invoke")
		reportLatencies(b, "", invokes, time.Microsecond, "µs")
		reportLatencies(b, "floor-", runs, time.Microsecond, "µs")
	}
}

// BenchmarkThroughput queues non-blocking invokes of one action and
// measures how fast they drain in one container, against the floor of
// direct /run requests to that warm container from 8 clients at once. The two alternate in
// rounds, as in BenchmarkWarmInvoke, so that the machine's drift slows
// both alike. It also reports the rate of one client sending one /run
// after another (one-client-act/s): the 8 clients keep 8 requests at a
// container that runs one activation at a time, one client one. The CPU
// per activation of the test process (Gust, with the bench's own
// invokes) and of the warm container, for Gust and for the 8 clients,
// tells a Gust short of CPU (its one thread busy at its rate) from one
// that leaves the container waiting.
func BenchmarkThroughput(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	for _, conc := range []int{1, 8} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			const rounds, perRound, clients = 4, 500, 8
			// Memory for the one container the floor has: the pool would
			// otherwise scale out for the lasting line of a round.
			s := newStack(b, stackOptions{pool: invoker.PoolOptions{MemoryMB: actions.DefaultMemoryMB}})
			a := s.put(b, action{name: "noop", code: noopCode, limits: func(l *actions.Limits) { l.Concurrency = conc }})
			if rec := s.invoke(b, "", a, ""); rec.Response.StatusCode != actions.StatusSuccess {
				b.Fatalf("warm up: %s", rec.Response.Result)
			}
			done := make(chan *nats.Msg, perRound)
			sub, err := s.hub.Conn().ChanSubscribe(hub.DoneSubject("*"), done)
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Unsubscribe()
			body := runBody(a)
			l := warmLease(b, s, a)
			container := l.Container().ID()
			s.pool.Release(l, true)
			b.ResetTimer()
			for range b.N {
				var gust, floor, serial time.Duration
				gustCPU, floorCPU := newCPUUse(container).profiled(b), newCPUUse(container)
				for range rounds {
					t0 := time.Now()
					gustCPU.measure(func() {
						for range perRound {
							if _, err := s.activate("", a, "", 0); err != nil {
								b.Fatal(err)
							}
						}
						timeout := time.After(2 * time.Minute)
						for i := range perRound {
							select {
							case <-done:
							case <-timeout:
								b.Fatalf("%d of %d activations done in 2 minutes", i, perRound)
							}
						}
					})
					gust += time.Since(t0)

					l := warmLease(b, s, a)
					t0 = time.Now()
					floorCPU.measure(func() {
						var wg sync.WaitGroup
						for range clients {
							wg.Go(func() {
								for range perRound / clients {
									directRun(b, l.Container(), body)
								}
							})
						}
						wg.Wait()
					})
					floor += time.Since(t0)
					t0 = time.Now()
					for range perRound {
						directRun(b, l.Container(), body)
					}
					serial += time.Since(t0)
					s.pool.Release(l, true)
				}
				b.ReportMetric(rounds*perRound/gust.Seconds(), "act/s")
				b.ReportMetric(rounds*(perRound/clients*clients)/floor.Seconds(), "floor-act/s")
				b.ReportMetric(rounds*perRound/serial.Seconds(), "one-client-act/s")
				gustCPU.report(b, "", rounds*perRound, "act")
				floorCPU.report(b, "floor-", rounds*(perRound/clients*clients), "act")
			}
		})
	}
}

// BenchmarkColdStart measures create → result of an action that has no
// container yet, without and with a stem cell, against the floor of a bare
// container create until its proxy answers a first request.
func BenchmarkColdStart(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	const n = 10
	// Room for every cold container of both runs and the stem cell.
	s := newStack(b, stackOptions{pool: invoker.PoolOptions{MemoryMB: 8192}})
	spec := func(b *testing.B) invoker.Spec {
		img, socket, err := s.images(context.Background(), actions.Exec{Kind: "nodejs:20"})
		if err != nil {
			b.Fatal(err)
		}
		return invoker.Spec{Kind: "nodejs:20", Image: img, ProxySocket: socket, MemoryMB: actions.DefaultMemoryMB, Owner: s.owner}
	}
	cold := func(b *testing.B, stem bool) {
		if stem {
			s.pool.KeepStemCells(spec(b), 1)
		}
		var d []time.Duration
		for i := range n {
			if stem && !eventually(time.Minute, func() bool { return s.pool.Stats().Stem == 1 }) {
				b.Fatal("no stem cell within a minute")
			}
			a := s.put(b, action{name: fmt.Sprintf("cold-%t-%d", stem, i), code: noopCode})
			t0 := time.Now()
			rec := s.invoke(b, "", a, "")
			d = append(d, time.Since(t0))
			if rec.Response.StatusCode != actions.StatusSuccess || !rec.Annotations.Has("initTime") {
				b.Fatalf("cold invoke: %s", mustJSON(rec))
			}
		}
		if stem {
			s.pool.KeepStemCells(spec(b), 0)
		}
		reportLatencies(b, "", d, time.Millisecond, "ms")
		var f []time.Duration
		for i := range n {
			sp := spec(b)
			sp.Name = fmt.Sprintf("%s_floor%d", s.owner, i)
			t0 := time.Now()
			c, err := s.sb.Create(context.Background(), sp)
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				for range c.Logs() {
				}
			}()
			req, _ := http.NewRequest(http.MethodPost, c.BaseURL()+"/run", strings.NewReader(`{"value":{}}`))
			resp, err := c.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			f = append(f, time.Since(t0))
			_ = c.Destroy(context.Background())
		}
		reportLatencies(b, "floor-", f, time.Millisecond, "ms")
	}
	for _, stem := range []bool{false, true} {
		b.Run("stem="+strconv.FormatBool(stem), func(b *testing.B) {
			for range b.N {
				cold(b, stem)
			}
		})
	}
}

// BenchmarkMemory100Warm reports the Go heap and the process's RSS with
// warm containers, against the same figures before the first one. The
// count is GUST_BENCH_WARM (default 100).
func BenchmarkMemory100Warm(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	count := 100
	if v, err := strconv.Atoi(os.Getenv("GUST_BENCH_WARM")); err == nil && v > 0 {
		count = v
	}
	for range b.N {
		s := newStack(b, stackOptions{pool: invoker.PoolOptions{MemoryMB: count * 64}})
		heap0, rss0 := memNow()
		acts := make([]*actions.Action, count)
		for i := range acts {
			acts[i] = s.put(b, action{name: fmt.Sprintf("w%03d", i), code: noopCode, limits: func(l *actions.Limits) { l.Memory = 64 }})
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for _, a := range acts {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				rec, err := s.activate("", a, "", 2*time.Minute)
				if err != nil || rec == nil || rec.Response.StatusCode != actions.StatusSuccess {
					b.Errorf("invoke %s: %v %v", a.Name, rec, err)
				}
			}()
		}
		wg.Wait()
		if st := s.pool.Stats(); st.Warm != count {
			b.Fatalf("%d warm containers, want %d", st.Warm, count)
		}
		heap, rss := memNow()
		b.ReportMetric(float64(count), "containers")
		b.ReportMetric(heap, "heap-MB")
		b.ReportMetric(heap0, "floor-heap-MB")
		b.ReportMetric(rss, "rss-MB")
		b.ReportMetric(rss0, "floor-rss-MB")
		b.ReportMetric((heap-heap0)*1024/float64(count), "heap-KB/container")
	}
}

// memNow returns the Go heap in use and the process's resident set, in MB.
func memNow() (heap, rss float64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = float64(ms.HeapInuse) / (1 << 20)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				rss = kb / 1024
			}
		}
	}
	return heap, rss
}

// BenchmarkWarmWebAction is a warm GET of a nodejs no-op web action
// through /api/v1/web (.json), against the floor of a direct /run to the
// same warm container, with a warm blocking invoke of the same action
// through the API in the same rounds: issue 17's target is that the web
// action's p50 ratio to the floor stays within 1.5× the blocking invoke's
// (p50-ratio-to-invoke ≤ 1.5). The three alternate in rounds, as in
// BenchmarkWarmInvoke.
func BenchmarkWarmWebAction(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	const rounds, perRound = 10, 200
	s := newStack(b, stackOptions{})
	srv := serveAPI(b, s)
	c := srv.Client()
	put, err := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/namespaces/guest/actions/noop", strings.NewReader(
		`{"exec":{"kind":"nodejs:20","code":"function main() { return {}; }"},"annotations":[{"key":"web-export","value":true}]}`))
	if err != nil {
		b.Fatal(err)
	}
	user, pass, _ := strings.Cut(api.DevGuestKey, ":")
	put.SetBasicAuth(user, pass)
	put.Header.Set("Content-Type", "application/json")
	if res, err := c.Do(put); err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("put the web action: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	get := func() time.Duration {
		t0 := time.Now()
		res, err := c.Get(srv.URL + "/api/v1/web/guest/default/noop.json")
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "{}" {
			b.Fatalf("web GET: %d %s", res.StatusCode, body)
		}
		return time.Since(t0)
	}
	for range 20 { // cold start, then warm up every side
		get()
		if st, body := postInvoke(b, c, srv, "noop", "blocking=true&result=true", "{}"); st != http.StatusOK {
			b.Fatalf("invoke: %d %s", st, body)
		}
	}
	a, _, err := s.store.GetAction(context.Background(), actions.Name{Namespace: "guest", Name: "noop"}, true)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	body := runBody(a)
	for range b.N {
		var webs, invokes, runs []time.Duration
		var webTime, runTime time.Duration
		for range rounds {
			t0 := time.Now()
			for range perRound {
				webs = append(webs, get())
			}
			webTime += time.Since(t0)
			for range perRound {
				t0 := time.Now()
				if st, body := postInvoke(b, c, srv, "noop", "blocking=true&result=true", "{}"); st != http.StatusOK {
					b.Fatalf("invoke: %d %s", st, body)
				}
				invokes = append(invokes, time.Since(t0))
			}
			l := warmLease(b, s, a)
			t0 = time.Now()
			for range perRound {
				t1 := time.Now()
				directRun(b, l.Container(), body)
				runs = append(runs, time.Since(t1))
			}
			runTime += time.Since(t0)
			s.pool.Release(l, true)
		}
		reportLatencies(b, "", webs, time.Microsecond, "µs")
		reportLatencies(b, "floor-", runs, time.Microsecond, "µs")
		b.ReportMetric(float64(len(webs))/webTime.Seconds(), "req/s")
		b.ReportMetric(float64(len(runs))/runTime.Seconds(), "floor-req/s")
		slices.Sort(invokes)
		webP50, invokeP50, runP50 := percentile(webs, 50), percentile(invokes, 50), percentile(runs, 50)
		b.ReportMetric(float64(invokeP50)/float64(time.Microsecond), "invoke-p50-µs")
		b.ReportMetric((float64(webP50)/float64(runP50))/(float64(invokeP50)/float64(runP50)), "p50-ratio-to-invoke")
	}
}
