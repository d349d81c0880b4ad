package feedrun

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/rules"
)

// StartHub starts an embedded hub on dir with the events stream; the test
// closes it (Close is idempotent, so a test may close it earlier).
func StartHub(tb testing.TB, dir string) *hub.Hub {
	tb.Helper()
	h := hubtest.StartWith(tb, hub.Options{DataDir: dir})
	if _, err := hub.OpenEvents(context.Background(), h.JetStream()); err != nil {
		tb.Fatal(err)
	}
	return h
}

// Process is a feed manager running on a hub.
type Process struct {
	M      *feeds.Manager
	H      *hub.Hub
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs a feed manager on h with the registered providers, a short
// lease and a short backoff, until Stop or the end of the test. Its feeds
// may connect to loopback, where the tests' upstreams (pouchdb-server,
// mosquitto) run; Gust refuses it by default.
func Start(tb testing.TB, h *hub.Hub) *Process {
	tb.Helper()
	js := h.JetStream()
	m, err := feeds.Open(context.Background(), feeds.Options{JetStream: js, Events: hub.NewPublisher(js), Triggers: Triggers(tb, h),
		LeaseTTL: time.Second, MaxBackoff: 500 * time.Millisecond, Egress: egress.MustParse(egress.Loopback)})
	if err != nil {
		tb.Fatal(err)
	}
	return Run(tb, h, m)
}

// Run runs the feed manager m, opened on h, until Stop or the end of the
// test.
func Run(tb testing.TB, h *hub.Hub, m *feeds.Manager) *Process {
	runCtx, cancel := context.WithCancel(context.Background())
	p := &Process{M: m, H: h, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(p.done); _ = m.Run(runCtx) }()
	tb.Cleanup(p.Stop)
	return p
}

// Triggers opens the trigger store on h.
func Triggers(tb testing.TB, h *hub.Hub) *rules.Store {
	tb.Helper()
	s, err := rules.OpenStore(context.Background(), h.JetStream())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// PutTrigger stores a new trigger guest/name, without a feed, on h.
func PutTrigger(tb testing.TB, h *hub.Hub, name string) actions.Name {
	tb.Helper()
	tr := rules.Trigger{Namespace: "guest", Name: name, Version: actions.InitialVersion}
	if _, err := Triggers(tb, h).PutTrigger(context.Background(), &tr, 0); err != nil {
		tb.Fatal(err)
	}
	return tr.FullName()
}

// Stop stops the manager and waits for its instances to stop.
func (p *Process) Stop() {
	p.cancel()
	<-p.done
}

// Create makes trigger guest/name with feed (e.g. "couchdb/changes").
func (p *Process) Create(tb testing.TB, name, feed string, params feeds.Params) {
	tb.Helper()
	tr := PutTrigger(tb, p.H, name)
	if _, err := p.M.Lifecycle(context.Background(), feeds.Request{Event: feeds.Create, Feed: feed, Trigger: tr, Params: params}); err != nil {
		tb.Fatal(err)
	}
}

// Status is READ's status of trigger guest/name's feed.
func (p *Process) Status(tb testing.TB, name, feed string) map[string]any {
	tb.Helper()
	res, err := p.M.Lifecycle(context.Background(), feeds.Request{Event: feeds.Read, Feed: feed,
		Trigger: actions.Name{Namespace: "guest", Name: name}})
	if err != nil {
		tb.Fatal(err)
	}
	return res["status"].(map[string]any)
}

// Stored returns the events stored for trigger guest/name, in order.
func Stored(tb testing.TB, h *hub.Hub, name string) []jetstream.Msg {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := h.JetStream().OrderedConsumer(ctx, hub.EventsStream,
		jetstream.OrderedConsumerConfig{FilterSubjects: []string{hub.EventSubject("guest", name)}})
	if err != nil {
		tb.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]jetstream.Msg, 0, info.NumPending)
	for range info.NumPending {
		msg, err := c.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			tb.Fatalf("read stored events: %v", err)
		}
		out = append(out, msg)
	}
	return out
}

// Eventually polls cond until it holds, failing tb after d.
func Eventually(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
