package invoker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gusthub/gust/invoker"
)

// fakeSandbox is an in-memory Sandbox that records what the pool asks of
// it, to test the pool's own logic.
type fakeSandbox struct {
	mu     sync.Mutex
	n      int
	all    []*fakeContainer
	events []string // "create c1", "pause c1", "resume c1", "destroy c1"
	// gate, when set, holds every Create until it is closed.
	gate chan struct{}
	// fail, when set, is every Create's error; tries counts those Creates.
	fail  error
	tries int
	// delay is how long each Create takes (set before use).
	delay time.Duration
}

func (s *fakeSandbox) Name() string { return "fake" }

func (s *fakeSandbox) Create(ctx context.Context, spec invoker.Spec) (invoker.Container, error) {
	time.Sleep(s.delay)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		s.tries++
		return nil, s.fail
	}
	s.n++
	c := &fakeContainer{sb: s, id: fmt.Sprintf("c%d", s.n), spec: spec, logs: make(chan invoker.LogLine)}
	s.all = append(s.all, c)
	s.events = append(s.events, "create "+c.id)
	return c, nil
}

func (s *fakeSandbox) RemoveLeftovers(context.Context, string) error { return nil }

// has reports whether event e happened.
func (s *fakeSandbox) has(e string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.events, e)
}

// eventsOf returns the events whose verb is verb, in order.
func (s *fakeSandbox) eventsOf(verb string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		if len(e) > len(verb) && e[:len(verb)+1] == verb+" " {
			out = append(out, e[len(verb)+1:])
		}
	}
	return out
}

// alive counts the containers not destroyed.
func (s *fakeSandbox) alive() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.all {
		if !c.destroyed {
			n++
		}
	}
	return n
}

type fakeContainer struct {
	sb        *fakeSandbox
	id        string
	spec      invoker.Spec
	logs      chan invoker.LogLine
	paused    bool
	destroyed bool
}

func (c *fakeContainer) ID() string                       { return c.id }
func (c *fakeContainer) Client() *http.Client             { return http.DefaultClient }
func (c *fakeContainer) BaseURL() string                  { return "http://fake.invalid" }
func (c *fakeContainer) Logs() <-chan invoker.LogLine     { return c.logs }
func (c *fakeContainer) OOMKilled(_ context.Context) bool { return false }

func (c *fakeContainer) Pause(context.Context) error {
	c.sb.mu.Lock()
	defer c.sb.mu.Unlock()
	if c.paused || c.destroyed {
		return errors.New("pause: not running")
	}
	c.paused = true
	c.sb.events = append(c.sb.events, "pause "+c.id)
	return nil
}

func (c *fakeContainer) Resume(context.Context) error {
	c.sb.mu.Lock()
	defer c.sb.mu.Unlock()
	if !c.paused || c.destroyed {
		return errors.New("resume: not paused")
	}
	c.paused = false
	c.sb.events = append(c.sb.events, "resume "+c.id)
	return nil
}

func (c *fakeContainer) Destroy(context.Context) error {
	c.sb.mu.Lock()
	defer c.sb.mu.Unlock()
	if !c.destroyed {
		c.destroyed = true
		close(c.logs)
		c.sb.events = append(c.sb.events, "destroy "+c.id)
	}
	return nil
}

var _ invoker.Sandbox = (*fakeSandbox)(nil)

func newFakePool(t *testing.T, o invoker.PoolOptions) (*invoker.Pool, *fakeSandbox) {
	t.Helper()
	sb := &fakeSandbox{}
	o.Owner = "test"
	o.QueueRuns = true
	p := invoker.NewPool(sb, o)
	t.Cleanup(p.Close)
	return p, sb
}

// req asks for a 128 MB container of key.
func req(key string) invoker.Request {
	return invoker.Request{Key: key, Spec: invoker.Spec{Kind: "nodejs:20", MemoryMB: 128}}
}

// use acquires a container for key, marks it initialized and releases it.
func use(t *testing.T, p *invoker.Pool, key string) string {
	t.Helper()
	l := acquire(t, p, req(key))
	l.MarkInitialized()
	p.Release(l, true)
	return l.Container().ID()
}

func acquire(t *testing.T, p *invoker.Pool, r invoker.Request) *invoker.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := p.Acquire(ctx, r)
	if err != nil {
		t.Fatalf("acquire %s: %v", r.Key, err)
	}
	return l
}

func TestPoolWarmReuse(t *testing.T) {
	p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 512})
	l := acquire(t, p, req("a"))
	if !l.Cold {
		t.Error("first lease is not cold")
	}
	l.MarkInitialized()
	p.Release(l, true)
	l2 := acquire(t, p, req("a"))
	if l2.Cold || l2.Container() != l.Container() {
		t.Errorf("second lease cold %t, container %s after %s: want the warm one", l2.Cold, l2.Container().ID(), l.Container().ID())
	}
	p.Release(l2, false) // failed: destroyed
	if !eventually(time.Second, func() bool { return sb.has("destroy " + l.Container().ID()) }) {
		t.Error("failed container not destroyed")
	}
	if st := p.Stats(); st.UsedMB != 0 || st.Warm != 0 {
		t.Errorf("stats after the failure: %+v", st)
	}
}

func TestPoolEvictsLeastRecentlyUsed(t *testing.T) {
	p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 3 * 128})
	a, b, c := use(t, p, "a"), use(t, p, "b"), use(t, p, "c")
	time.Sleep(2 * time.Millisecond)
	use(t, p, "a") // a is now the most recently used: b, c, a
	for i, want := range []string{b, c} {
		use(t, p, fmt.Sprint("new", i))
		if !eventually(time.Second, func() bool { return len(sb.eventsOf("destroy")) == i+1 }) {
			t.Fatalf("destroyed %v, want %d", sb.eventsOf("destroy"), i+1)
		}
		if got := sb.eventsOf("destroy")[i]; got != want {
			t.Errorf("eviction %d took %s, want %s (order b=%s c=%s a=%s)", i, got, want, b, c, a)
		}
	}
	if st := p.Stats(); st.UsedMB != 3*128 || st.Warm != 3 {
		t.Errorf("stats %+v, want 3 warm containers filling 384 MB", st)
	}
}

func TestPoolQueuesInOrderWhenFull(t *testing.T) {
	p, _ := newFakePool(t, invoker.PoolOptions{MemoryMB: 128})
	busy := acquire(t, p, req("busy"))
	served := lineUp(t, p, "w1", "w2", "w3")
	if st := p.Stats(); st.Busy != 1 || st.UsedMB != 128 {
		t.Errorf("stats while full: %+v", st)
	}
	busy.MarkInitialized()
	p.Release(busy, true)
	if order := served(); !slices.Equal(order, []string{"w1", "w2", "w3"}) {
		t.Errorf("served %v, want first come first served", order)
	}
}

// lineUp starts an activation of each key in turn, the next once the one
// before waits for a container. served waits until each got one, used
// and released it, and returns the keys in the order they got them.
func lineUp(t *testing.T, p *invoker.Pool, keys ...string) (served func() []string) {
	t.Helper()
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	waiting := p.Stats().Waiting
	for i, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := acquire(t, p, req(key))
			mu.Lock()
			order = append(order, key)
			mu.Unlock()
			l.MarkInitialized()
			p.Release(l, true)
		}()
		if !eventually(time.Second, func() bool { return p.Stats().Waiting == waiting+i+1 }) {
			t.Fatalf("%s is not waiting: %+v", key, p.Stats())
		}
	}
	return func() []string {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return order
	}
}

func TestPoolRefusesActionLargerThanPool(t *testing.T) {
	p, _ := newFakePool(t, invoker.PoolOptions{MemoryMB: 256})
	r := req("big")
	r.Spec.MemoryMB = 512
	if _, err := p.Acquire(context.Background(), r); err == nil {
		t.Error("a 512 MB action was given a container in a 256 MB pool")
	}
}

func TestPoolWaiterGivesUpWithContext(t *testing.T) {
	p, _ := newFakePool(t, invoker.PoolOptions{MemoryMB: 128})
	busy := acquire(t, p, req("busy"))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Acquire(ctx, req("other")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire on a full pool = %v, want the context's deadline", err)
	}
	if st := p.Stats(); st.Waiting != 0 {
		t.Errorf("%d still waiting", st.Waiting)
	}
	p.Release(busy, true)
	use(t, p, "other") // the turn was not lost
}

func TestPoolStemCells(t *testing.T) {
	p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
	p.KeepStemCells(invoker.Spec{Kind: "nodejs:20", MemoryMB: 128}, 1)
	if !eventually(time.Second, func() bool { return p.Stats().Stem == 1 }) {
		t.Fatalf("no stem cell: %+v", p.Stats())
	}
	stem := sb.eventsOf("create")[0]
	l := acquire(t, p, req("a"))
	if !l.Cold || l.Container().ID() != stem {
		t.Errorf("lease got %s (cold %t), want stem cell %s", l.Container().ID(), l.Cold, stem)
	}
	if !eventually(time.Second, func() bool { return p.Stats().Stem == 1 && len(sb.eventsOf("create")) == 2 }) {
		t.Errorf("stem cell not replenished: %+v, created %v", p.Stats(), sb.eventsOf("create"))
	}
	// Another kind or memory does not take it.
	other := req("b")
	other.Spec.MemoryMB = 256
	if l := acquire(t, p, other); l.Container().ID() == sb.eventsOf("create")[1] {
		t.Error("a 256 MB action took a 128 MB stem cell")
	}
	if st := p.Stats(); st.UsedMB != 2*128+256 || st.Stem != 1 {
		t.Errorf("stats %+v, want the former stem cell, a new one and a 256 MB container", st)
	}
}

// TestPoolStemCellsWaitForTheSandbox: while the sandbox fails (its
// engine restarts), the pool asks it for stem cells again only after a
// growing pause, not in a loop, and makes them once it works again.
func TestPoolStemCellsWaitForTheSandbox(t *testing.T) {
	p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
	sb.mu.Lock()
	sb.fail = fmt.Errorf("%w: engine restarting", invoker.ErrUnavailable)
	sb.mu.Unlock()
	p.KeepStemCells(invoker.Spec{Kind: "nodejs:20", MemoryMB: 128}, 2)
	// Activations that fail meanwhile wake the pool up again and again.
	for range 50 {
		if _, err := p.Acquire(context.Background(), req("a")); !errors.Is(err, invoker.ErrUnavailable) {
			t.Fatalf("acquire: %v, want ErrUnavailable", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sb.mu.Lock()
	tries := sb.tries
	sb.fail = nil
	sb.mu.Unlock()
	// 50 acquires, 2 stem cells at first, then one try of each after
	// 0.5, 1 and 2 s at most in the second that passed.
	if tries > 50+2+2*3 {
		t.Errorf("%d tries to create a container in a second, for 50 activations and 2 stem cells", tries)
	}
	if !eventually(time.Minute, func() bool { return p.Stats().Stem == 2 }) {
		t.Fatalf("no stem cells once the sandbox works: %+v", p.Stats())
	}
}

func TestPoolPausesAfterGraceAndResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 512, PauseGrace: 10 * time.Second, IdleTTL: 10 * time.Minute})
		id := use(t, p, "a")
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if sb.has("pause " + id) {
			t.Fatal("paused before the grace")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !sb.has("pause "+id) || p.Stats().Paused != 1 {
			t.Fatalf("not paused after the grace: %v, %+v", sb.events, p.Stats())
		}
		l := acquire(t, p, req("a"))
		if l.Cold || l.Container().ID() != id || !sb.has("resume "+id) {
			t.Errorf("reuse got %s (cold %t), events %v: want %s resumed", l.Container().ID(), l.Cold, sb.events, id)
		}
		if st := p.Stats(); st.Paused != 0 {
			t.Errorf("stats after resume %+v", st)
		}
		p.Release(l, true)
		// Paused again, then removed after the idle TTL.
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if n := len(sb.eventsOf("pause")); n != 2 {
			t.Errorf("%d pauses, want 2", n)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if !sb.has("destroy "+id) || p.Stats().Warm != 0 || p.Stats().UsedMB != 0 {
			t.Errorf("not removed after the idle TTL: %v, %+v", sb.events, p.Stats())
		}
	})
}

// TestPoolResumesAPausedFreshContainer: a container started for a line
// that no activation took in time (another freed first) is idle and
// fresh; after the grace it is paused like any idle one. The activation
// that later takes it cold must find it resumed, or its /init would wait
// on a stopped process until its time limit.
func TestPoolResumesAPausedFreshContainer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 512, PauseGrace: 10 * time.Second, IdleTTL: 10 * time.Minute})
		l := acquire(t, p, req("a"))
		id := l.Container().ID()
		p.Release(l, true) // given back before its /init: fresh again
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if !sb.has("pause " + id) {
			t.Fatalf("the idle fresh container was not paused: %v", sb.events)
		}
		l = acquire(t, p, req("a"))
		if !l.Cold || l.Container().ID() != id {
			t.Fatalf("got %s (cold %t), want the fresh %s, cold", l.Container().ID(), l.Cold, id)
		}
		if !sb.has("resume " + id) {
			t.Errorf("the fresh container was handed out for its /init still paused: %v", sb.events)
		}
		p.Release(l, true)
	})
}

func TestPoolIdleTTLWithoutPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 512, IdleTTL: time.Minute})
		id := use(t, p, "a")
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if sb.has("destroy " + id) {
			t.Fatal("removed before the TTL")
		}
		use(t, p, "a") // use restarts the clock
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if sb.has("destroy " + id) {
			t.Fatal("removed less than a TTL after its last use")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !sb.has("destroy "+id) || len(sb.eventsOf("pause")) != 0 {
			t.Errorf("events %v: want removed, never paused", sb.events)
		}
	})
}

func TestPoolConcurrencySlots(t *testing.T) {
	p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
	r := req("c")
	r.Concurrency = 3
	first := acquire(t, p, r)
	// While the first activation initializes the container, a second one
	// joins it but waits for /init to end.
	got := make(chan *invoker.Lease, 1)
	go func() { got <- acquire(t, p, r) }()
	select {
	case l := <-got:
		t.Fatalf("second activation got %s before /init ended", l.Container().ID())
	case <-time.After(50 * time.Millisecond):
	}
	first.MarkInitialized()
	var second *invoker.Lease
	select {
	case second = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("second activation still waiting after /init")
	}
	third := acquire(t, p, r)
	for _, l := range []*invoker.Lease{second, third} {
		if l.Cold || l.Container() != first.Container() {
			t.Errorf("lease %s cold %t, want the first container %s", l.Container().ID(), l.Cold, first.Container().ID())
		}
	}
	fourth := acquire(t, p, r)
	if fourth.Container() == first.Container() || !fourth.Cold {
		t.Error("a fourth activation shared a container of concurrency 3")
	}
	p.Release(second, true)
	if l := acquire(t, p, r); l.Container() != first.Container() {
		t.Error("a freed slot was not reused")
	}
	if n := len(sb.eventsOf("create")); n != 2 {
		t.Errorf("%d containers, want 2", n)
	}
}

// TestPoolWaitsForWarmRatherThanColdStart: a fast action whose warm
// container is busy waits for it when that is sooner than a cold start,
// and scales out when the line before it is too long; a slow action
// scales out at once.
func TestPoolWaitsForWarmRatherThanColdStart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		run      time.Duration // how long each activation holds its container
		waiting  int           // activations already in line
		newCount int           // containers created for the next one
	}{
		{name: "fast action waits", run: 10 * time.Millisecond, newCount: 1},
		{name: "long line scales out", run: 10 * time.Millisecond, waiting: 30, newCount: 2},
		{name: "slow action scales out", run: time.Second, newCount: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
				coldStart(t, p, req("a"), 200*time.Millisecond, tc.run)

				busy := acquire(t, p, req("a"))
				for range tc.waiting {
					go func() { // until the pool closes
						if l, err := p.Acquire(context.Background(), req("a")); err == nil {
							p.Release(l, true)
						}
					}()
					synctest.Wait()
				}
				got := make(chan *invoker.Lease, 1)
				go func() {
					l, _ := p.Acquire(context.Background(), req("a")) // nil once the pool closes
					got <- l
				}()
				synctest.Wait()
				if n := len(sb.eventsOf("create")); n != tc.newCount {
					t.Fatalf("%d containers created, want %d", n, tc.newCount)
				}
				if tc.newCount == 1 {
					time.Sleep(tc.run)
					p.Release(busy, true)
					if l := <-got; l.Cold || l.Container() != busy.Container() {
						t.Errorf("waiter got %s cold %t, want the warm %s", l.Container().ID(), l.Cold, busy.Container().ID())
					}
				}
			})
		})
	}
}

// coldStart runs r's first activation on a new container whose create
// and /init take cold, then run, as the pool measures them (in a synctest
// bubble, time.Sleep is the fake clock).
func coldStart(t *testing.T, p *invoker.Pool, r invoker.Request, cold, run time.Duration) {
	t.Helper()
	l := acquire(t, p, r)
	time.Sleep(cold)
	l.MarkInitialized()
	time.Sleep(run)
	p.Release(l, true)
}

// TestPoolColdStartByImage: the line of an action whose image starts in
// 100 ms scales by that, not by the 5 s that another image takes.
func TestPoolColdStartByImage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
		slow, fast := req("slow"), req("fast")
		slow.Spec.Image, fast.Spec.Image = "big-image", "small-image"
		coldStart(t, p, slow, 5*time.Second, time.Millisecond)
		coldStart(t, p, fast, 100*time.Millisecond, 50*time.Millisecond)
		busy := acquire(t, p, fast)
		defer p.Release(busy, true)
		for range 3 { // 150 ms of work in line: more than a cold start
			go func() { // until the pool closes
				if l, err := p.Acquire(context.Background(), fast); err == nil {
					p.Release(l, true)
				}
			}()
		}
		synctest.Wait()
		if n := len(sb.eventsOf("create")); n != 3 {
			t.Errorf("%d containers created, want a third for the fast image's line", n)
		}
	})
}

// TestPoolWaiterForWarmScalesOutAfterAColdStartsTime: an activation that
// waited for a busy warm container as long as a cold start takes starts one.
func TestPoolWaiterForWarmScalesOutAfterAColdStartsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
		coldStart(t, p, req("a"), 200*time.Millisecond, time.Millisecond)
		busy := acquire(t, p, req("a")) // and never released
		got := make(chan *invoker.Lease, 1)
		go func() { got <- acquire(t, p, req("a")) }()
		synctest.Wait()
		if n := len(sb.eventsOf("create")); n != 1 {
			t.Fatalf("%d containers created before the wait, want 1", n)
		}
		time.Sleep(200 * time.Millisecond)
		if l := <-got; !l.Cold || l.Container() == busy.Container() {
			t.Errorf("waiter got %s cold %t, want a new container", l.Container().ID(), l.Cold)
		}
	})
}

func TestPoolConcurrentJoinersRetryWhenInitFails(t *testing.T) {
	p, _ := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
	r := req("c")
	r.Concurrency = 2
	first := acquire(t, p, r)
	got := make(chan *invoker.Lease, 1)
	go func() { got <- acquire(t, p, r) }()
	time.Sleep(20 * time.Millisecond)
	p.Release(first, false) // /init failed
	select {
	case l := <-got:
		if !l.Cold || l.Container() == first.Container() {
			t.Errorf("joiner got %s cold %t, want a new cold container", l.Container().ID(), l.Cold)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("joiner stuck after the /init it waited for failed")
	}
}

func TestPoolCloseDestroysEverything(t *testing.T) {
	sb := &fakeSandbox{}
	p := invoker.NewPool(sb, invoker.PoolOptions{MemoryMB: 5 * 128, PauseGrace: time.Millisecond, Owner: "test"})
	p.KeepStemCells(invoker.Spec{Kind: "python:3", MemoryMB: 128}, 1)
	idle := use(t, p, "idle")          // paused soon
	busy := acquire(t, p, req("busy")) // still leased
	_ = busy
	if !eventually(time.Second, func() bool { return p.Stats().Stem == 1 && sb.has("pause "+idle) }) {
		t.Fatalf("setup: %+v, %v", p.Stats(), sb.events)
	}
	// One more being created when Close comes.
	sb.gate = make(chan struct{})
	creating := make(chan error, 1)
	go func() {
		_, err := p.Acquire(context.Background(), req("late"))
		creating <- err
	}()
	// And one waiting for room: 128 MB are free, 128 MB idle.
	waiting := make(chan error, 1)
	if !eventually(time.Second, func() bool { return p.Stats().UsedMB == 4*128 }) {
		t.Fatalf("setup: %+v", p.Stats())
	}
	go func() {
		r := req("waiter")
		r.Spec.MemoryMB = 3 * 128
		_, err := p.Acquire(context.Background(), r)
		waiting <- err
	}()
	if !eventually(time.Second, func() bool { return p.Stats().Waiting == 2 }) { // with "late", whose container is being created
		t.Fatalf("setup: %+v", p.Stats())
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a container was being created")
	case <-time.After(50 * time.Millisecond):
	}
	close(sb.gate)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if n := sb.alive(); n != 0 {
		t.Errorf("%d containers left after Close (events %v)", n, sb.events)
	}
	if err := <-waiting; !errors.Is(err, invoker.ErrPoolClosed) {
		t.Errorf("waiting Acquire = %v, want ErrPoolClosed", err)
	}
	if err := <-creating; !errors.Is(err, invoker.ErrPoolClosed) {
		t.Errorf("Acquire being created = %v, want ErrPoolClosed", err)
	}
	if _, err := p.Acquire(context.Background(), req("after")); !errors.Is(err, invoker.ErrPoolClosed) {
		t.Errorf("Acquire after Close = %v, want ErrPoolClosed", err)
	}
	p.Close() // idempotent
}

func TestPoolReplenishesStemCellsWhenMemoryFrees(t *testing.T) {
	p, _ := newFakePool(t, invoker.PoolOptions{MemoryMB: 2 * 128})
	stem := invoker.Spec{Kind: "python:3", MemoryMB: 128}
	p.KeepStemCells(stem, 1)
	if !eventually(time.Second, func() bool { return p.Stats().Stem == 1 }) {
		t.Fatalf("no stem cell: %+v", p.Stats())
	}
	a := acquire(t, p, req("a"))
	py := acquire(t, p, invoker.Request{Key: "py", Spec: stem})
	if st := p.Stats(); st.Stem != 0 || st.UsedMB != 256 {
		t.Fatalf("stats with a full pool: %+v", st)
	}
	p.Release(a, false) // destroyed: 128 MB free again
	if !eventually(time.Second, func() bool { return p.Stats().Stem == 1 }) {
		t.Errorf("stem cell not replenished once memory freed: %+v", p.Stats())
	}
	p.Release(py, true)
}

// TestPoolBurstStartsWhatTheLineNeeds: 50 activations at once of a key
// with no container start one container when the action runs in 2 ms
// (the line drains long before a second cold start would end), and
// scale out to the pool's memory when it runs 200 ms.
func TestPoolBurstStartsWhatTheLineNeeds(t *testing.T) {
	for _, tc := range []struct {
		name        string
		run         time.Duration
		least, most int // containers created for the burst
	}{
		{name: "fast action", run: 2 * time.Millisecond, least: 1, most: 1},
		{name: "slow action", run: 200 * time.Millisecond, least: 8, most: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 8 * 128})
				sb.delay = 300 * time.Millisecond
				coldStart(t, p, req("other"), 10*time.Millisecond, time.Millisecond) // the pool knows its cold start
				burstOf(t, p, "a", 50, tc.run).Wait()
				if n := len(sb.eventsOf("create")) - 1; n < tc.least || n > tc.most {
					t.Errorf("%d containers created for the burst, want %d to %d", n, tc.least, tc.most)
				}
			})
		})
	}
}

// burstOf starts n activations of key at once, each running run (after
// a 10 ms /init on a cold container).
func burstOf(t *testing.T, p *invoker.Pool, key string, n int, run time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := acquire(t, p, req(key))
			if l.Cold {
				time.Sleep(10 * time.Millisecond)
				l.MarkInitialized()
			}
			time.Sleep(run)
			p.Release(l, true)
		}()
	}
	return &wg
}

// TestPoolNextBurstScalesAtOnce: once a slow action's containers expired,
// its next burst starts what it needs at once, by the run time the pool
// measured before, instead of one container to learn it.
func TestPoolNextBurstScalesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 8 * 128, IdleTTL: time.Minute})
		sb.delay = 300 * time.Millisecond
		burstOf(t, p, "a", 50, 200*time.Millisecond).Wait()
		time.Sleep(2 * time.Minute)
		if st := p.Stats(); st.Warm != 0 {
			t.Fatalf("containers left after their TTL: %+v", st)
		}
		wg := burstOf(t, p, "a", 50, 200*time.Millisecond)
		synctest.Wait()
		if st := p.Stats(); st.Starting != 8 {
			t.Errorf("second burst: %+v, want 8 containers starting at once", st)
		}
		wg.Wait()
	})
}

// TestPoolWaiterTakesWhicheverFreesFirst: a waiter for whom a new
// container is being created takes the warm one that frees before it
// comes up; the new one then serves the next activation.
func TestPoolWaiterTakesWhicheverFreesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
		sb.delay = 300 * time.Millisecond
		coldStart(t, p, req("a"), 10*time.Millisecond, time.Second) // a slow action
		busy := acquire(t, p, req("a"))
		got := make(chan *invoker.Lease, 1)
		go func() { got <- acquire(t, p, req("a")) }()
		synctest.Wait()
		if st := p.Stats(); st.Starting != 1 || st.Waiting != 1 {
			t.Fatalf("stats with one waiting: %+v, want a container starting for it", st)
		}
		time.Sleep(50 * time.Millisecond)
		p.Release(busy, true)
		if l := <-got; l.Cold || l.Container() != busy.Container() {
			t.Errorf("waiter got %s cold %t, want the warm %s freed first", l.Container().ID(), l.Cold, busy.Container().ID())
		}
		time.Sleep(300 * time.Millisecond)
		next := acquire(t, p, req("a"))
		if !next.Cold || next.Container() == busy.Container() {
			t.Errorf("next got %s cold %t, want the new container", next.Container().ID(), next.Cold)
		}
		if n := len(sb.eventsOf("create")); n != 2 {
			t.Errorf("%d containers created, want 2", n)
		}
	})
}

// TestPoolFreedContainerMakesRoomForEarlierLine: on a full pool, a
// container freed while another action's line waits for memory, and came
// first, is evicted for it instead of serving its own action's later
// activation.
func TestPoolFreedContainerMakesRoomForEarlierLine(t *testing.T) {
	p, _ := newFakePool(t, invoker.PoolOptions{MemoryMB: 128})
	a := acquire(t, p, req("a"))
	a.MarkInitialized()
	served := lineUp(t, p, "b", "a")
	p.Release(a, true)
	if order := served(); !slices.Equal(order, []string{"b", "a"}) {
		t.Errorf("served %v, want b, which waited first", order)
	}
}

// TestPoolColdLeaseGivenBack: a container whose first activation gave it
// back before its /init is initialized by the next one, not waited on.
func TestPoolColdLeaseGivenBack(t *testing.T) {
	p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
	first := acquire(t, p, req("a"))
	p.Release(first, true) // say its activation ended before /init
	next := acquire(t, p, req("a"))
	if !next.Cold || next.Container() != first.Container() {
		t.Errorf("next got %s cold %t, want %s to initialize", next.Container().ID(), next.Cold, first.Container().ID())
	}
	if n := len(sb.eventsOf("create")); n != 1 {
		t.Errorf("%d containers created, want 1", n)
	}
}

// TestPoolLastingLoadScalesOut: 16 clients invoking an action that sleeps
// 50 ms, each again as soon as it has its result, keep its line waiting
// for longer than a cold start: that load lasts, and the pool scales out
// to its memory (8 containers) though each burst of the line alone would
// drain before a cold start ends. So does it in containers of Gust's
// proxy, where short runs queue behind the running one: 50 ms is too long
// for that (with queued runs up to 100 ms, it stopped at 4).
func TestPoolLastingLoadScalesOut(t *testing.T) {
	for _, proxy := range []bool{false, true} {
		t.Run(fmt.Sprintf("proxy=%t", proxy), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 8 * 128})
				sb.delay = 300 * time.Millisecond
				r := req("a")
				r.Spec.ProxySocket = proxy
				steadyLoad(t, p, r, 16, 40, 50*time.Millisecond)
				if n := len(sb.eventsOf("create")); n != 8 {
					t.Errorf("%d containers created, want the 8 that fit", n)
				}
			})
		})
	}
}

// steadyLoad runs workers that each acquire a container for r, hold it
// for run and release it, times over.
func steadyLoad(t *testing.T, p *invoker.Pool, r invoker.Request, workers, times int, run time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range times {
				l := acquire(t, p, r)
				if l.Cold {
					l.MarkInitialized()
				}
				time.Sleep(run)
				p.Release(l, true)
			}
		})
	}
	wg.Wait()
}

// waitInLine starts an activation of r that waits in line until it gets
// a container (initializing a new one), or the pool closes, and runs for
// no time.
func waitInLine(p *invoker.Pool, r invoker.Request) {
	go func() {
		if l, err := p.Acquire(context.Background(), r); err == nil {
			if l.Cold {
				l.MarkInitialized()
			}
			p.Release(l, true)
		}
	}()
}

// TestPoolSteadyLoadOnAConcurrentContainer: a container that runs several
// activations at once may never be idle under a steady load of short
// ones; its line scales by how long they run, not by how long the
// container has been busy, so a line that drains in milliseconds starts
// no container however long the load lasts.
func TestPoolSteadyLoadOnAConcurrentContainer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
		r := req("a")
		r.Concurrency = 4
		coldStart(t, p, r, 200*time.Millisecond, 10*time.Millisecond)
		// 6 on 4 slots: 2 wait in line most of the time, for 2 s (ten
		// cold starts) of 10 ms runs.
		steadyLoad(t, p, r, 6, 200, 10*time.Millisecond)
		if n := len(sb.eventsOf("create")); n != 1 {
			t.Errorf("%d containers created, want the first only", n)
		}
	})
}

// TestPoolBusyInvokerDoesNotScaleOut: runs known to be short that hold
// their containers longer, but for less than a cold start and than a busy
// invoker may read late (lateReads), are taken for the invoker's own
// delay, not for a slower action, and start no container; held past both,
// they do. The process sandbox's cold starts take tens of milliseconds.
func TestPoolBusyInvokerDoesNotScaleOut(t *testing.T) {
	for _, tc := range []struct {
		name             string
		cold, held, more time.Duration // held: for less than both; held+more: past both
	}{
		{"docker", 200 * time.Millisecond, 150 * time.Millisecond, 60 * time.Millisecond},
		{"process", 20 * time.Millisecond, 60 * time.Millisecond, 60 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
				r := req("a")
				r.Concurrency = 4
				coldStart(t, p, r, tc.cold, time.Millisecond)
				var held []*invoker.Lease
				for range 4 {
					held = append(held, acquire(t, p, r))
				}
				for range 20 { // 20 ms of runs in line, on 4 slots: no reason to scale
					waitInLine(p, r)
				}
				time.Sleep(tc.held) // the 4 held, by a busy invoker, say
				waitInLine(p, r)    // the line looks again
				synctest.Wait()
				if n := len(sb.eventsOf("create")); n != 1 {
					t.Fatalf("%d containers created while the runs held their slots for %v, want 1", n, tc.held)
				}
				time.Sleep(tc.more)
				synctest.Wait()
				if n := len(sb.eventsOf("create")); n == 1 {
					t.Errorf("no container created once the runs held their slots for %v", tc.held+tc.more)
				}
				for _, l := range held {
					p.Release(l, true)
				}
			})
		})
	}
}

// TestPoolLooksAgainOnceARunOutlastsAColdStart: a line that is a lasting
// load, whose action's runs are known to be short, and whose one
// container is taken by a run that goes on, gets a container once that
// run has outlasted a cold start, with no other activation coming or
// going meanwhile: the line's timer looks again then.
func TestPoolLooksAgainOnceARunOutlastsAColdStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
		r := req("a")
		coldStart(t, p, r, 200*time.Millisecond, time.Millisecond)
		busy := acquire(t, p, r)
		stuck := make(chan *invoker.Lease, 1)
		go func() { stuck <- acquire(t, p, r) }() // first in line
		synctest.Wait()
		waitInLine(p, r) // second in line
		synctest.Wait()
		time.Sleep(190 * time.Millisecond)
		p.Release(busy, true) // the first in line takes the container, and runs on
		l := <-stuck
		defer p.Release(l, true)
		time.Sleep(100 * time.Millisecond) // the line lasts longer than a cold start
		synctest.Wait()
		if n := len(sb.eventsOf("create")); n != 1 {
			t.Fatalf("%d containers created while the run went on for less than a cold start, want 1", n)
		}
		time.Sleep(200 * time.Millisecond) // now longer than a cold start
		synctest.Wait()
		if n := len(sb.eventsOf("create")); n != 2 {
			t.Errorf("%d containers created once the run outlasted a cold start, want a second", n)
		}
	})
}

// TestPoolRunTimeIsWhatTheProxySays: the key's run time is how long its
// runs took in their containers, as the proxy says, when it says: a run
// whose answer the invoker read 150 ms late counts as the 1 ms it took.
func TestPoolRunTimeIsWhatTheProxySays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
		r := req("a")
		coldStart(t, p, r, 200*time.Millisecond, time.Millisecond)
		for _, took := range []time.Duration{time.Millisecond, 0} {
			l := acquire(t, p, r)
			time.Sleep(150 * time.Millisecond)
			l.SetTook(took)
			p.Release(l, true)
			if run := p.RunTime("a"); took > 0 && run != time.Millisecond || took == 0 && run < 10*time.Millisecond {
				t.Errorf("run time %s after a run held 150 ms that took %s by the proxy (0: unknown)", run, took)
			}
		}
	})
}

// TestPoolWaiterThatLeavesAfterItsTurnBegan: an activation in line whose
// context ends, granted a place queued behind a run before it could
// leave the line, and its turn begun meanwhile, leaves its container's
// running activations too: one left there would look like a run that
// never ends, and scale the key out once it outlasted a cold start.
func TestPoolWaiterThatLeavesAfterItsTurnBegan(t *testing.T) {
	// On one thread the waiter, woken by the end of its context, runs
	// only once this test waits: after the grant and its turn.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	synctest.Test(t, func(t *testing.T) {
		p, _ := newFakePool(t, invoker.PoolOptions{MemoryMB: 128})
		r := req("short")
		r.Spec.ProxySocket = true
		coldStart(t, p, r, 200*time.Millisecond, time.Millisecond) // its runs are short: they queue
		running := acquire(t, p, r)
		q1, q2 := acquire(t, p, r), acquire(t, p, r)
		if !q1.Queued || !q2.Queued {
			t.Fatalf("queued %t %t: want both behind the running one", q1.Queued, q2.Queued)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			if l, err := p.Acquire(ctx, r); err == nil {
				p.Release(l, true)
			}
		}()
		synctest.Wait() // it waits in line
		cancel()
		p.Release(running, true) // q1 runs; the waiter is granted a place behind q2
		p.Release(q1, true)      // q2 runs
		p.Release(q2, true)      // the waiter's turn
		synctest.Wait()
		if n := p.RunningLeases(); n != 0 {
			t.Fatalf("%d leases left running once every activation is back", n)
		}
	})
}

// TestPoolQueuesBehindShortRuns: a busy container of Gust's proxy takes
// activations queued behind the running one, up to two, once its key's
// runs are known to be short; never for an activation that asks to be
// alone, nor for a key whose runs are long. A container that fails with
// activations queued behind it is destroyed once they are back.
func TestPoolQueuesBehindShortRuns(t *testing.T) {
	p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
	proxyReq := func(key string, alone bool) invoker.Request {
		r := req(key)
		r.Spec.ProxySocket, r.Alone = true, alone
		return r
	}
	run := func(key string, d time.Duration) string {
		l := acquire(t, p, proxyReq(key, false))
		l.MarkInitialized()
		time.Sleep(d)
		p.Release(l, true)
		return l.Container().ID()
	}
	c1 := run("short", time.Millisecond)
	first := acquire(t, p, proxyReq("short", false))
	var queued []*invoker.Lease
	for range 2 {
		l := acquire(t, p, proxyReq("short", false))
		if !l.Queued || l.Container().ID() != c1 {
			t.Fatalf("lease of %s, queued %t: want one queued in %s", l.Container().ID(), l.Queued, c1)
		}
		queued = append(queued, l)
	}
	if first.Queued || p.Stats().Queued != 2 {
		t.Fatalf("first queued %t, %d queued: want the first running and two queued", first.Queued, p.Stats().Queued)
	}
	alone := acquire(t, p, proxyReq("short", true))
	if alone.Queued || alone.Container().ID() == c1 {
		t.Errorf("an activation that asks to be alone got %s, queued %t", alone.Container().ID(), alone.Queued)
	}
	p.Release(alone, true)

	p.Release(first, false) // fails: the queued ones are still out
	if sb.has("destroy "+c1) || p.Stats().Queued != 1 {
		t.Fatalf("after the first failed: destroyed %t, %d queued; want it kept for the queued ones", sb.has("destroy "+c1), p.Stats().Queued)
	}
	p.Release(queued[0], true)
	p.Release(queued[1], false)
	if !eventually(10*time.Second, func() bool { return sb.has("destroy " + c1) }) {
		t.Errorf("%s not destroyed once its queued activations were back: %v", c1, sb.events)
	}

	c := run("long", 2*invoker.MaxQueuedRun)
	busy := acquire(t, p, proxyReq("long", false))
	l := acquire(t, p, proxyReq("long", false))
	if l.Queued || busy.Container().ID() != c || l.Container().ID() == c {
		t.Errorf("long runs: got %s queued %t while %s runs in %s", l.Container().ID(), l.Queued, busy.Container().ID(), c)
	}
}
