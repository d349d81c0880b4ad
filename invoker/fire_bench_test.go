package invoker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/procs"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
)

// fireEvents is how many events each fire benchmark puts on the trigger.
const fireEvents = 1000

// fireConcurrency is the warm action's limits.concurrency in the fire
// benchmarks, so that one warm container serves the whole burst (no scale
// out with cold starts), and the floor's number of parallel workers.
const fireConcurrency = 8

// fireRig is a stack with a warm action and trigger t of namespace guest
// whose fanout rules all invoke it, and a rule engine running on them.
type fireRig struct {
	*stack
	a         *actions.Action
	container string // the ID of a's warm container
}

// newFireRig starts a fire rig; code is the action's, with
// limits.concurrency conc. Everything stops when b ends.
func newFireRig(b *testing.B, fanout int, code string, conc int) *fireRig {
	b.Helper()
	s := newStack(b, stackOptions{})
	a := s.put(b, action{name: "noop", code: code, limits: func(l *actions.Limits) { l.Concurrency = conc }})
	if rec := s.invoke(b, "", a, ""); rec.Response.StatusCode != actions.StatusSuccess {
		b.Fatalf("warm up: %s", rec.Response.Result)
	}
	l := warmLease(b, s, a)
	container := l.Container().ID()
	s.pool.Release(l, true)
	startRuleEngine(b, s, "noop", fanout)
	return &fireRig{stack: s, a: a, container: container}
}

// startRuleEngine puts trigger t of namespace guest, whose fanout rules
// all invoke guest's action, and runs a rule engine on s until tb ends,
// once its consumer of the events exists.
func startRuleEngine(tb testing.TB, s *stack, action string, fanout int) {
	tb.Helper()
	ctx := context.Background()
	js := s.hub.JetStream()
	rs, err := rules.OpenStore(ctx, js)
	if err != nil {
		tb.Fatal(err)
	}
	t := &rules.Trigger{Namespace: "guest", Name: "t", Version: actions.InitialVersion, Rules: map[string]rules.Link{}}
	for i := range fanout {
		t.Rules[fmt.Sprintf("guest/r%d", i)] = rules.Link{Action: rules.Ref{Path: "guest", Name: action}, Status: rules.StatusActive}
	}
	if _, err := rs.PutTrigger(ctx, t, 0); err != nil {
		tb.Fatal(err)
	}
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		tb.Fatal(err)
	}
	engCtx, stop := context.WithCancel(ctx)
	engDone := make(chan error, 1)
	go func() {
		engDone <- engine.New(js, rs, s.store, s.disp, s.records, nil).SkipUnheardOutcomes(s.hub.Heard).Run(engCtx)
	}()
	tb.Cleanup(func() { stop(); <-engDone })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := js.Consumer(ctx, hub.EventsStream, hub.RulesConsumer)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the rule engine's consumer: %v", err)
		}
	}
}

// fire puts event id on trigger t.
func (r *fireRig) fire(b *testing.B, id string) {
	ev := event.New()
	ev.SetID(id)
	ev.SetSource("/bench")
	ev.SetType("dev.gust.bench")
	if err := hub.PublishEvent(context.Background(), r.hub.JetStream(), "guest", "t", ev, nil); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFireToCompletion measures trigger events drained to completed
// activations, with one rule and with a fan-out to 10 rules, against the
// floor of a raw JetStream publish → consume → HTTP /run on the same warm
// container (one /run per rule) with the same parallelism. Figures are
// events/s. Each burst is followed by a round of the floor, so that a
// machine whose speed drifts slows both alike (the floor measured once
// after all the bursts moved their ratio by a factor of up to 9).
func BenchmarkFireToCompletion(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	for _, fanout := range []int{1, 10} {
		b.Run(fmt.Sprintf("rules=%d", fanout), func(b *testing.B) {
			r := newFireRig(b, fanout, noopCode, fireConcurrency)
			done := make(chan *nats.Msg, fireEvents*fanout)
			sub, err := r.hub.Conn().ChanSubscribe(hub.DoneSubject("*"), done)
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Unsubscribe()
			var fired time.Duration // how long the bursts' publishes took
			burst := func(round string) {
				t0 := time.Now()
				for j := range fireEvents {
					r.fire(b, fmt.Sprintf("e-%d-%s-%d", fanout, round, j))
				}
				fired += time.Since(t0)
				for range fireEvents * fanout {
					select {
					case <-done:
					case <-time.After(2 * time.Minute):
						b.Fatal("activations did not complete")
					}
				}
			}
			// One burst unmeasured, as the floor that follows runs on a
			// container and a server warmed by the bursts before it.
			burst("warm-up")
			fired = 0
			var gust, floor time.Duration
			cpu, floorCPU := newCPUUse(r.container).profiled(b), newCPUUse(r.container)
			for i := range b.N {
				t0 := time.Now()
				cpu.measure(func() { burst(fmt.Sprint(i)) })
				gust += time.Since(t0)
				floor += fireFloor(b, r.stack, r.a, fanout, floorCPU)
			}
			events := float64(b.N * fireEvents)
			b.ReportMetric(events/gust.Seconds(), "events/s")
			b.ReportMetric(events/fired.Seconds(), "fired-events/s")
			b.ReportMetric(events/floor.Seconds(), "floor-events/s")
			cpu.report(b, "", b.N*fireEvents, "event")
			floorCPU.report(b, "floor-", b.N*fireEvents, "event")
		})
	}
}

// startCode is a no-op action that returns when it started, in epoch
// milliseconds with a fraction (the container reads the host's clock).
const startCode = `function main() { return { t: performance.timeOrigin + performance.now() }; }`

// BenchmarkFireToStart measures the latency from a trigger fire (the
// event's publish) to the start of its rule's warm action, one event at a
// time, against the floor of a raw JetStream publish → consume → /run to
// the same container. The action reports when it started.
func BenchmarkFireToStart(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	const n = 300
	r := newFireRig(b, 1, startCode, 1)
	done := make(chan *nats.Msg, 1)
	sub, err := r.hub.Conn().ChanSubscribe(hub.DoneSubject("*"), done)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	for i := range b.N {
		d := make([]time.Duration, 0, n)
		for j := range n + 20 { // the first 20 warm up
			t0 := time.Now()
			r.fire(b, fmt.Sprintf("s-%d-%d", i, j))
			var rec actions.Activation
			select {
			case m := <-done:
				if err := json.Unmarshal(m.Data, &rec); err != nil {
					b.Fatal(err)
				}
			case <-time.After(time.Minute):
				b.Fatal("activation did not complete")
			}
			if j >= 20 {
				d = append(d, startedAfter(b, rec.Response.Result, t0))
			}
		}
		reportLatencies(b, "", d, time.Microsecond, "µs")
		reportLatencies(b, "floor-", startFloor(b, r.stack, r.a, n), time.Microsecond, "µs")
	}
}

// startedAfter is how long after t0 the action whose result is res
// started.
func startedAfter(b *testing.B, res []byte, t0 time.Time) time.Duration {
	var out struct{ T float64 }
	if err := json.Unmarshal(res, &out); err != nil || out.T == 0 {
		b.Fatalf("result %s: want the start time", res)
	}
	return time.Duration(out.T*float64(time.Millisecond)) - time.Duration(t0.UnixNano())
}

// floorStream creates the floors' raw stream FLOOR (subjects floor.>) and
// returns a consumer of it; the stream is deleted when b ends.
func floorStream(b *testing.B, s *stack) jetstream.Consumer {
	b.Helper()
	ctx := context.Background()
	js := s.hub.JetStream()
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "FLOOR", Subjects: []string{"floor.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = js.DeleteStream(ctx, "FLOOR") })
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "floor", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		b.Fatal(err)
	}
	return cons
}

// startFloor publishes n raw messages to a stream one at a time, consumes
// each and sends it to /run on a's warm container, and returns how long
// after each publish the action started.
func startFloor(b *testing.B, s *stack, a *actions.Action, n int) []time.Duration {
	ctx := context.Background()
	js := s.hub.JetStream()
	cons := floorStream(b, s)
	it, err := cons.Messages()
	if err != nil {
		b.Fatal(err)
	}
	defer it.Stop()
	l := warmLease(b, s, a)
	defer s.pool.Release(l, true)
	body := runBody(a)
	d := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if _, err := js.Publish(ctx, "floor.e", []byte(`{}`)); err != nil {
			b.Fatal(err)
		}
		msg, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		_ = msg.Ack()
		resp, err := l.Container().Client().Post(l.Container().BaseURL()+"/run", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		res, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d = append(d, startedAfter(b, res, t0))
	}
	return d
}

// fireFloor publishes fireEvents raw messages to a stream, consumes them
// and sends each fanout times to /run on the warm container,
// fireConcurrency at once, and returns how long that took; cpu adds up
// what it cost.
func fireFloor(b *testing.B, s *stack, a *actions.Action, fanout int, cpu *cpuUse) time.Duration {
	ctx := context.Background()
	js := s.hub.JetStream()
	cons := floorStream(b, s)
	l := warmLease(b, s, a)
	defer s.pool.Release(l, true)
	body := runBody(a)
	t0 := time.Now()
	cpu.measure(func() {
		for j := range fireEvents {
			if _, err := js.Publish(ctx, "floor.e", []byte(fmt.Sprintf(`{"i":%d}`, j))); err != nil {
				b.Fatal(err)
			}
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(64))
		if err != nil {
			b.Fatal(err)
		}
		defer it.Stop()
		var wg sync.WaitGroup
		var failed sync.Once
		var runErr error
		slots := make(chan struct{}, fireConcurrency)
		for range fireEvents {
			msg, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			_ = msg.Ack()
			for range fanout {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					if err := postRun(l.Container(), body); err != nil {
						failed.Do(func() { runErr = err })
					}
				}()
			}
		}
		wg.Wait()
		if runErr != nil {
			b.Fatal(runErr) // from the benchmark's goroutine, not the workers
		}
	})
	return time.Since(t0)
}

// postRun sends body to the container's /run; it is directRun for worker
// goroutines, which must not call b.Fatal.
func postRun(c invoker.Container, body []byte) error {
	resp, err := c.Client().Post(c.BaseURL()+"/run", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/run: %s", resp.Status)
	}
	return nil
}
