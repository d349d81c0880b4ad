package invoker_test

import (
	"bytes"
	"context"
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
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/rules"
)

// fireEvents is how many events each fire benchmark puts on the trigger.
const fireEvents = 1000

// fireConcurrency is the warm action's limits.concurrency in the fire
// benchmarks, so that one warm container serves the whole burst (no scale
// out with cold starts), and the floor's number of parallel workers.
const fireConcurrency = 8

// BenchmarkFireToCompletion measures trigger events drained to completed
// activations, with one rule and with a fan-out to 10 rules, against the
// floor of a raw JetStream publish → consume → HTTP /run on the same warm
// container with the same parallelism. Figures are events/s.
func BenchmarkFireToCompletion(b *testing.B) {
	for _, fanout := range []int{1, 10} {
		b.Run(fmt.Sprintf("rules=%d", fanout), func(b *testing.B) {
			ctx := context.Background()
			s := newStack(b, stackOptions{})
			a := s.put(b, action{name: "noop", code: noopCode, limits: func(l *actions.Limits) { l.Concurrency = fireConcurrency }})
			if rec := s.invoke(b, "", a, ""); rec.Response.StatusCode != actions.StatusSuccess {
				b.Fatalf("warm up: %s", rec.Response.Result)
			}
			js := s.hub.JetStream()
			rs, err := rules.OpenStore(ctx, js)
			if err != nil {
				b.Fatal(err)
			}
			t := &rules.Trigger{Namespace: "guest", Name: "t", Version: actions.InitialVersion, Rules: map[string]rules.Link{}}
			for i := range fanout {
				t.Rules[fmt.Sprintf("guest/r%d", i)] = rules.Link{Action: rules.Ref{Path: "guest", Name: "noop"}, Status: rules.StatusActive}
			}
			if _, err := rs.PutTrigger(ctx, t, 0); err != nil {
				b.Fatal(err)
			}
			if _, err := hub.OpenEvents(ctx, js); err != nil {
				b.Fatal(err)
			}
			engCtx, stop := context.WithCancel(ctx)
			engDone := make(chan error, 1)
			go func() { engDone <- rules.NewEngine(js, rs, s.store, s.disp, s.records, nil).Run(engCtx) }()
			defer func() { stop(); <-engDone }()

			done := make(chan *nats.Msg, fireEvents*fanout)
			sub, err := s.hub.Conn().ChanSubscribe(invoker.DoneSubject("*"), done)
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Unsubscribe()
			for i := range b.N {
				t0 := time.Now()
				for j := range fireEvents {
					ev := event.New()
					ev.SetID(fmt.Sprintf("e-%d-%d-%d", fanout, i, j))
					ev.SetSource("/bench")
					ev.SetType("dev.gust.bench")
					if err := hub.PublishEvent(ctx, js, "guest", "t", ev, nil); err != nil {
						b.Fatal(err)
					}
				}
				for range fireEvents * fanout {
					select {
					case <-done:
					case <-time.After(2 * time.Minute):
						b.Fatal("activations did not complete")
					}
				}
				b.ReportMetric(float64(fireEvents)/time.Since(t0).Seconds(), "events/s")
			}
			b.ReportMetric(fireFloor(b, s, a), "floor-events/s")
		})
	}
}

// fireFloor publishes fireEvents raw messages to a stream, consumes them
// and sends each to /run on the warm container, fireConcurrency at once.
func fireFloor(b *testing.B, s *stack, a *actions.Action) float64 {
	ctx := context.Background()
	js := s.hub.JetStream()
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "FLOOR", Subjects: []string{"floor.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(ctx, "FLOOR") }()
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "floor", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		b.Fatal(err)
	}
	l := warmLease(b, s, a)
	defer s.pool.Release(l, true)
	body := runBody(a)
	t0 := time.Now()
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
	wg.Wait()
	if runErr != nil {
		b.Fatal(runErr) // from the benchmark's goroutine, not the workers
	}
	return float64(fireEvents) / time.Since(t0).Seconds()
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
