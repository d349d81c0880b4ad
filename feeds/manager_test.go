package feeds_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/internal/feedrun"
	"github.com/gusthub/gust/internal/syncbuf"
	"github.com/gusthub/gust/rules"
)

// runs records which process runs which instance, and how many of them at
// once.
type runs struct {
	mu      sync.Mutex
	current map[string]int            // trigger → running copies
	by      map[string]map[string]int // trigger → process → starts
	maxDup  int
	saved   map[string][]byte // trigger → checkpoint loaded at the last start
}

func newRuns() *runs {
	return &runs{current: map[string]int{}, by: map[string]map[string]int{}, saved: map[string][]byte{}}
}

func (r *runs) start(trigger, proc string, loaded []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current[trigger]++
	r.maxDup = max(r.maxDup, r.current[trigger])
	if r.by[trigger] == nil {
		r.by[trigger] = map[string]int{}
	}
	r.by[trigger][proc]++
	r.saved[trigger] = loaded
}

func (r *runs) stop(trigger string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current[trigger]--
}

// runningOn returns the process running trigger ("" when none).
func (r *runs) runningOn(trigger string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.by[trigger] {
		out[k] = v
	}
	return out
}

// registry has "test/steady", which runs until cancelled, counting a
// checkpoint up once a start; "test/finishing", which returns at once, done;
// "test/failing", which fails (or panics with
// panic=true) at once.
func registry(proc string, rs *runs) *feeds.Registry {
	reg := feeds.NewRegistry()
	reg.Register(feeds.Provider{Package: "test", Name: "steady", New: func(cfg feeds.Config) (feeds.Source, error) {
		return feedFunc(func(ctx context.Context, emit feeds.Emit) error {
			loaded, err := cfg.Checkpoint.Load(ctx)
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(string(loaded))
			if err := cfg.Checkpoint.Save(ctx, []byte(strconv.Itoa(n+1))); err != nil {
				return err
			}
			rs.start(cfg.Trigger.Name, proc, loaded)
			defer rs.stop(cfg.Trigger.Name)
			<-ctx.Done()
			return nil
		}), nil
	}})
	reg.Register(feeds.Provider{Package: "test", Name: "slow", New: func(cfg feeds.Config) (feeds.Source, error) {
		return feedFunc(func(ctx context.Context, emit feeds.Emit) error {
			rs.start(cfg.Trigger.Name, proc, nil)
			defer rs.stop(cfg.Trigger.Name)
			<-ctx.Done()
			time.Sleep(3 * leaseTTL) // a provider slow to return on cancel
			return nil
		}), nil
	}})
	reg.Register(feeds.Provider{Package: "test", Name: "finishing", New: func(cfg feeds.Config) (feeds.Source, error) {
		return feedFunc(func(ctx context.Context, emit feeds.Emit) error {
			rs.start(cfg.Trigger.Name, proc, nil)
			rs.stop(cfg.Trigger.Name)
			return nil // its last event went out
		}), nil
	}})
	reg.Register(feeds.Provider{Package: "test", Name: "failing", New: func(cfg feeds.Config) (feeds.Source, error) {
		doPanic, _, _ := cfg.Params.Bool("panic")
		return feedFunc(func(ctx context.Context, emit feeds.Emit) error {
			rs.start(cfg.Trigger.Name, proc, nil)
			defer rs.stop(cfg.Trigger.Name)
			if doPanic {
				panic("feed bug")
			}
			return errors.New("upstream refused")
		}), nil
	}})
	return reg
}

type feedFunc func(ctx context.Context, emit feeds.Emit) error

func (f feedFunc) Run(ctx context.Context, emit feeds.Emit) error { return f(ctx, emit) }

const leaseTTL = 900 * time.Millisecond

// startProcess runs one Gust process's feed manager, with the providers
// of registry(name, rs), on a shared hub.
func startProcess(t *testing.T, h *hub.Hub, name string, rs *runs) *feedrun.Process {
	t.Helper()
	return feedrun.Run(t, h, openManager(t, h, name, rs, nil))
}

// openManager is the feed manager of startProcess, logging to log (nil:
// nowhere).
func openManager(t *testing.T, h *hub.Hub, name string, rs *runs, log *slog.Logger) *feeds.Manager {
	t.Helper()
	ctx := context.Background()
	js := h.JetStream()
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		t.Fatal(err)
	}
	m, err := feeds.Open(ctx, feeds.Options{Registry: registry(name, rs), JetStream: js, Events: hub.NewPublisher(js),
		Triggers: feedrun.Triggers(t, h), LeaseTTL: leaseTTL, MaxBackoff: 200 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// createFeeds makes n triggers trigger0... with feed test/<feed>.
func createFeeds(t *testing.T, h *hub.Hub, m *feeds.Manager, feed string, n int, params feeds.Params) {
	t.Helper()
	ctx := context.Background()
	ruleStore := feedrun.Triggers(t, h)
	for i := range n {
		name := fmt.Sprintf("trigger%d", i)
		tr := rules.Trigger{Namespace: "guest", Name: name, Version: actions.InitialVersion}
		if _, err := ruleStore.PutTrigger(ctx, &tr, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Lifecycle(ctx, feeds.Request{Event: feeds.Create, Feed: "test/" + feed,
			Trigger: actions.Name{Namespace: "guest", Name: name}, Params: params}); err != nil {
			t.Fatal(err)
		}
	}
}

// eventually polls cond until it holds or 10 s passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startHub(t *testing.T) *hub.Hub {
	t.Helper()
	return hubtest.StartWith(t, hub.Options{Listen: "127.0.0.1:0"})
}

func connect(t *testing.T, url string) *hub.Hub {
	t.Helper()
	return hubtest.StartWith(t, hub.Options{URL: url})
}

// TestOneOwnerPerInstance: two processes on one NATS run each instance
// once; when the owner of some stops, the other takes them over, and when
// an owner dies without releasing its leases, the other takes over once
// they expire.
func TestOneOwnerPerInstance(t *testing.T) {
	rs := newRuns()
	h := startHub(t)
	a := startProcess(t, h, "a", rs)
	bHub := connect(t, h.ClientURL())
	b := startProcess(t, bHub, "b", rs)
	const n = 6
	createFeeds(t, h, a.M, "steady", n, nil)
	running := func(proc string) int {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		c := 0
		for trig, cur := range rs.current {
			if cur > 0 && rs.by[trig][proc] > 0 {
				c++
			}
		}
		return c
	}
	eventually(t, "every instance runs", func() bool { return running("a")+running("b") >= n })
	time.Sleep(3 * leaseTTL) // renewals happen; nothing may start twice
	if rs.maxDup != 1 {
		t.Fatalf("an instance ran on %d processes at once", rs.maxDup)
	}

	a.Stop() // a clean stop releases a's leases at once
	eventually(t, "b runs every instance", func() bool { return running("b") == n })

	// b dies without a word: its connection drops, its leases are left to
	// expire, and a new process c takes over.
	startProcess(t, connect(t, h.ClientURL()), "c", rs)
	_ = bHub.Close() // the connection goes first: b cannot release its leases
	b.Stop()
	eventually(t, "c runs every instance", func() bool { return running("c") == n })
	if rs.maxDup != 1 {
		t.Fatalf("an instance ran on %d processes at once", rs.maxDup)
	}
	// Each start saw the checkpoint of the one before: progress survives
	// a change of owner.
	for i := range n {
		name := fmt.Sprintf("trigger%d", i)
		starts := 0
		for _, v := range rs.runningOn(name) {
			starts += v
		}
		rs.mu.Lock()
		got := string(rs.saved[name])
		rs.mu.Unlock()
		if got != strconv.Itoa(starts-1) {
			t.Errorf("%s: start %d loaded checkpoint %q, want %d", name, starts, got, starts-1)
		}
	}
}

// TestRestartResumes: a new process on the same data resumes the
// instances with their checkpoints.
func TestRestartResumes(t *testing.T) {
	dir := t.TempDir()
	rs := newRuns()
	h, err := hub.Start(context.Background(), hub.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, h, "first", rs)
	createFeeds(t, h, p.M, "steady", 2, nil)
	eventually(t, "both run", func() bool { return len(rs.runningOn("trigger1")) == 1 && len(rs.runningOn("trigger0")) == 1 })
	p.Stop()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	h2, err := hub.Start(context.Background(), hub.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h2.Close() })
	startProcess(t, h2, "second", rs)
	eventually(t, "both resume", func() bool {
		return rs.runningOn("trigger0")["second"] == 1 && rs.runningOn("trigger1")["second"] == 1
	})
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if string(rs.saved["trigger0"]) != "1" {
		t.Errorf("resumed instance loaded checkpoint %q, want 1", rs.saved["trigger0"])
	}
}

// TestFailingInstance: an instance that fails or panics is run again with
// backoff, shows its error in READ, and does not take the process down.
func TestFailingInstance(t *testing.T) {
	for _, doPanic := range []bool{false, true} {
		t.Run(fmt.Sprintf("panic=%v", doPanic), func(t *testing.T) {
			rs := newRuns()
			h := startHub(t)
			p := startProcess(t, h, "a", rs)
			params := feeds.Params{}
			params.Set("panic", doPanic)
			createFeeds(t, h, p.M, "failing", 1, params)
			eventually(t, "the instance is retried", func() bool { return rs.runningOn("trigger0")["a"] >= 3 })
			got, err := p.M.Lifecycle(context.Background(), feeds.Request{Event: feeds.Read, Feed: "test/failing",
				Trigger: actions.Name{Namespace: "guest", Name: "trigger0"}})
			if err != nil {
				t.Fatal(err)
			}
			status := got["status"].(map[string]any)
			want := "upstream refused"
			if doPanic {
				want = "feed panicked: feed bug"
			}
			if status["lastError"] != want || status["active"] != true {
				t.Errorf("READ status %v, want lastError %q", status, want)
			}
		})
	}
}

// TestFinishedInstanceIsDoneQuietly: an instance whose feed returns is
// marked done, and nothing is logged about it. The watch of the instances
// cancels the instance's context when it sees that very write, often
// before the write's answer is read: the write must outlive it.
func TestFinishedInstanceIsDoneQuietly(t *testing.T) {
	h := startHub(t)
	ctx := context.Background()
	var logs syncbuf.Buffer
	m := openManager(t, h, "a", newRuns(), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	p := feedrun.Run(t, h, m)
	createFeeds(t, h, m, "finishing", 20, nil)
	for i := range 20 {
		eventually(t, fmt.Sprintf("trigger%d's instance is done", i), func() bool {
			got, err := m.Lifecycle(ctx, feeds.Request{Event: feeds.Read, Feed: "test/finishing",
				Trigger: actions.Name{Namespace: "guest", Name: fmt.Sprintf("trigger%d", i)}})
			return err == nil && got["status"].(map[string]any)["active"] == false
		})
	}
	p.Stop()
	if s := logs.String(); s != "" {
		t.Errorf("finished instances logged:\n%s", s)
	}
}

// TestEmitPublishes: events a feed emits are on its trigger's subject.
func TestEmitPublishes(t *testing.T) {
	h := startHub(t)
	ctx := context.Background()
	js := h.JetStream()
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		t.Fatal(err)
	}
	ruleStore := feedrun.Triggers(t, h)
	reg := feeds.NewRegistry()
	reg.Register(feeds.Provider{Package: "test", Name: "one", New: func(cfg feeds.Config) (feeds.Source, error) {
		return feedFunc(func(ctx context.Context, emit feeds.Emit) error {
			e := event.New()
			e.SetID("only")
			e.SetSource("/test")
			e.SetType("dev.gust.test")
			if err := emit(ctx, e); err != nil {
				return err
			}
			return emit(ctx, e) // a duplicate is dropped by the hub, not an error
		}), nil
	}})
	m, err := feeds.Open(ctx, feeds.Options{Registry: reg, JetStream: js, Events: hub.NewPublisher(js), Triggers: ruleStore, LeaseTTL: leaseTTL})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = m.Run(runCtx) }()
	tr := rules.Trigger{Namespace: "guest", Name: "t", Version: actions.InitialVersion}
	if _, err := ruleStore.PutTrigger(ctx, &tr, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lifecycle(ctx, feeds.Request{Event: feeds.Create, Feed: "test/one", Trigger: tr.FullName()}); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, hub.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the event is stored", func() bool {
		info, err := st.Info(ctx)
		return err == nil && info.State.Msgs == 1
	})
	msg, err := st.GetLastMsgForSubject(ctx, hub.EventSubject("guest", "t"))
	if err != nil {
		t.Fatal(err)
	}
	if e, err := hub.DecodeEvent(msg.Header, msg.Data); err != nil || e.ID() != "only" || msg.Header.Get(hub.HeaderSubject) != "guest" {
		t.Errorf("stored event %v (%v), headers %v", e, err, msg.Header)
	}
}

// TestSlowStopKeepsLeases: an instance slow to return when stopped does not
// hold up the renewal of the process's other leases, so no other process
// starts them meanwhile.
func TestSlowStopKeepsLeases(t *testing.T) {
	rs := newRuns()
	h := startHub(t)
	a := startProcess(t, h, "a", rs)
	createFeeds(t, h, a.M, "steady", 3, nil)
	ctx := context.Background()
	slow := feedrun.PutTrigger(t, h, "slowpoke")
	if _, err := a.M.Lifecycle(ctx, feeds.Request{Event: feeds.Create, Feed: "test/slow", Trigger: slow}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a runs all four", func() bool {
		for _, name := range []string{"trigger0", "trigger1", "trigger2", "slowpoke"} {
			if rs.runningOn(name)["a"] != 1 {
				return false
			}
		}
		return true
	})
	startProcess(t, connect(t, h.ClientURL()), "b", rs)
	if _, err := a.M.Lifecycle(ctx, feeds.Request{Event: feeds.Pause, Feed: "test/slow", Trigger: slow}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * leaseTTL)
	for _, name := range []string{"trigger0", "trigger1", "trigger2"} {
		if got := rs.runningOn(name); got["b"] != 0 {
			t.Errorf("%s started on b while a still ran it: %v", name, got)
		}
	}
	if rs.maxDup != 1 {
		t.Errorf("an instance ran on %d processes at once", rs.maxDup)
	}
}

// TestInstallConcurrently: processes starting together all install the
// feed actions without failing.
func TestInstallConcurrently(t *testing.T) {
	for round := range 5 {
		h := startHub(t)
		store, err := actions.OpenStore(context.Background(), h.JetStream())
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 3)
		for range 3 {
			go func() { errs <- feeds.Install(context.Background(), store, registry("x", newRuns()), time.Now()) }()
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
