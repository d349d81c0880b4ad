package invoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// PoolOptions configure a Pool.
type PoolOptions struct {
	// MemoryMB is the memory all containers may use together; a container
	// counts with its action's memory limit.
	MemoryMB int
	// PauseGrace is how long an idle warm container stays running before it
	// is paused; zero never pauses.
	PauseGrace time.Duration
	// IdleTTL is how long an idle warm container is kept before it is
	// removed; zero keeps it until capacity is needed.
	IdleTTL time.Duration
	// Owner names this invoker's containers, so that a restarted invoker can
	// remove what an earlier run left.
	Owner  string
	Logger *slog.Logger
}

// Pool keeps action containers: warm ones keyed by namespace and action
// version, and stem cells per kind and memory that have no code yet. It
// bounds their memory, evicting the least recently used idle warm
// containers, and queues requests in order when it is full.
//
// When every warm container of a key is busy, an activation waits for one
// of them rather than starting a new container if, by the key's measured
// run time and the queue before it, a slot frees sooner than a cold start
// (measured too) would take; otherwise, or when it has waited that long,
// it scales out. A burst for a fast action so stays on its warm
// containers, while slow actions get more.
type Pool struct {
	sb   Sandbox
	opts PoolOptions
	log  *slog.Logger

	mu       sync.Mutex
	usedMB   int
	warm     map[string][]*container // by warm key
	stems    map[string][]*container // by stem key
	stemSpec map[string]Spec         // stem key → spec of the stem cells to keep
	stemWant map[string]int          // stem key → how many to keep
	stemHave map[string]int          // stem key → how many are kept or starting
	// stemPause is, after a stem cell of a key failed to start, how long
	// the pool waits before it tries again (doubling, up to
	// maxStemPause; cleared by a start that works), and stemRetry is
	// when it may: a sandbox that is down is not asked again and again.
	stemPause map[string]time.Duration
	stemRetry map[string]time.Time
	waiters   []chan struct{}
	// keyWaiters are activations waiting, in order, for a busy warm
	// container of their key (see Acquire); keyRun is the mean time an
	// activation of a key holds its container, coldStart that of a cold
	// start (create and /init), both moving averages.
	keyWaiters map[string][]*keyWaiter
	keyRun     map[string]time.Duration
	coldStart  time.Duration
	closed     bool
	seq        atomic.Int64
	bg         sync.WaitGroup
}

// container is a sandbox container with its pool bookkeeping.
type container struct {
	Container
	key         string // warm key; "" for a stem cell
	stemKey     string
	kind        string
	memMB       int
	maxActive   int
	active      int
	initialized bool
	paused      bool
	dead        bool
	lastUsed    time.Time
	timer       *time.Timer
	logs        *logCollector
	// ready is closed once the container ran /init or was removed: other
	// activations of a concurrent action wait for it before their /run.
	ready       chan struct{}
	readyClosed bool
	// pauseMu orders a Pause in progress before the Resume of the next
	// activation.
	pauseMu sync.Mutex
}

// signalReadyLocked wakes the activations waiting for c's /init.
func (c *container) signalReadyLocked() {
	if !c.readyClosed {
		c.readyClosed = true
		close(c.ready)
	}
}

// ErrPoolClosed is returned by Acquire once Close has begun.
var ErrPoolClosed = errors.New("container pool is closed")

// NewPool returns a pool that creates containers with sb.
func NewPool(sb Sandbox, opts PoolOptions) *Pool {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MemoryMB <= 0 {
		opts.MemoryMB = 2048
	}
	return &Pool{sb: sb, opts: opts, log: log,
		warm: map[string][]*container{}, stems: map[string][]*container{},
		keyWaiters: map[string][]*keyWaiter{}, keyRun: map[string]time.Duration{},
		stemSpec: map[string]Spec{}, stemWant: map[string]int{}, stemHave: map[string]int{},
		stemPause: map[string]time.Duration{}, stemRetry: map[string]time.Time{}}
}

// Lease is a container acquired for one activation.
type Lease struct {
	c    *container
	pool *Pool
	// Cold reports that the container has not run /init yet.
	Cold bool
	// since is when the container started serving the activation: the
	// lease, or for a cold one the end of /init; created is when a new
	// container's creation began.
	since, created time.Time
}

// keyWaiter is an Acquire waiting for a busy warm container of its key:
// Release hands it a claimed container on c.
type keyWaiter struct{ c chan *container }

// Container is the leased container.
func (l *Lease) Container() Container { return l.c.Container }

// logs is the leased container's log collector.
func (l *Lease) logs() *logCollector { return l.c.logs }

// Request says what container an activation needs.
type Request struct {
	// Key identifies the action version and invocation namespace whose warm
	// containers may serve the activation.
	Key string
	// Spec creates a container when none is warm; Spec.Kind and
	// Spec.MemoryMB also pick a stem cell.
	Spec Spec
	// Concurrency is how many activations one container may run at once.
	Concurrency int
}

// Acquire returns a container for req: a warm one, a stem cell, or a new
// one, waiting in line while the pool is full.
func (p *Pool) Acquire(ctx context.Context, req Request) (*Lease, error) {
	if req.Concurrency < 1 {
		req.Concurrency = 1
	}
	scaleOut := false // set once waiting for a warm container took too long
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		c := p.takeWarm(req)
		if c == nil && !scaleOut {
			if patience := p.patienceLocked(req.Key); patience > 0 {
				var timedOut bool
				var err error
				c, timedOut, err = p.awaitWarm(ctx, req.Key, patience) // unlocks
				if err != nil {
					return nil, err
				}
				scaleOut = timedOut // waited as long as a cold start takes
				if c == nil {
					continue
				}
				p.mu.Lock()
			}
		}
		if c != nil {
			initialized := c.initialized
			p.mu.Unlock()
			if !initialized && !p.awaitInit(ctx, c) {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				continue
			}
			if err := p.resume(ctx, c); err != nil {
				p.Release(&Lease{c: c, pool: p}, false)
				continue
			}
			return &Lease{c: c, pool: p, since: time.Now()}, nil
		}
		if c := p.takeStem(req); c != nil {
			p.mu.Unlock()
			now := time.Now()
			return &Lease{c: c, pool: p, Cold: true, since: now}, nil
		}
		if p.reserve(req.Spec.MemoryMB) {
			c := newContainer(req.Spec, req.Key, req.Concurrency)
			p.warm[req.Key] = append(p.warm[req.Key], c)
			p.bg.Add(1) // Close waits for containers being created
			p.mu.Unlock()
			created := time.Now()
			err := p.start(ctx, c, req.Spec)
			p.bg.Done()
			if err != nil {
				return nil, err
			}
			return &Lease{c: c, pool: p, Cold: true, since: time.Now(), created: created}, nil
		}
		if req.Spec.MemoryMB > p.opts.MemoryMB {
			p.mu.Unlock()
			return nil, fmt.Errorf("action needs %d MB, more than the invoker's %d MB", req.Spec.MemoryMB, p.opts.MemoryMB)
		}
		wake := make(chan struct{})
		p.waiters = append(p.waiters, wake)
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			p.mu.Lock()
			p.dropWaiterLocked(wake)
			p.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

// awaitInit waits until the container that another activation is
// initializing is ready. It reports false, having given back the claimed
// slot, when /init failed or ctx ended first.
func (p *Pool) awaitInit(ctx context.Context, c *container) bool {
	select {
	case <-c.ready:
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.initialized && !c.dead && ctx.Err() == nil {
		return true
	}
	c.active--
	if c.active == 0 && !c.dead {
		c.lastUsed = time.Now()
		p.armIdleLocked(c)
	}
	p.wakeNextLocked()
	return false
}

// patienceLocked is how long an activation of key should wait for one of
// the key's busy warm containers instead of starting a new one: the time a
// cold start takes, when the activations already waiting and this one can
// expect a free slot sooner than that; 0 (do not wait) otherwise, or while
// either time is yet unknown.
func (p *Pool) patienceLocked(key string) time.Duration {
	run, cold := p.keyRun[key], p.coldStart
	if run <= 0 || cold <= 0 {
		return 0
	}
	slots := 0
	for _, c := range p.warm[key] {
		if !c.dead {
			slots += c.maxActive
		}
	}
	if slots == 0 {
		return 0
	}
	queued := len(p.keyWaiters[key]) + 1
	if time.Duration(queued)*run/time.Duration(slots) >= cold {
		return 0
	}
	return cold
}

// awaitWarm waits, in line, up to patience for a busy warm container of
// key to free a slot, and returns it claimed. It returns nil when the time
// is up (timedOut) or when one of the key's containers went away, for the
// caller to look again. The caller holds p.mu; awaitWarm returns without.
func (p *Pool) awaitWarm(ctx context.Context, key string, patience time.Duration) (c *container, timedOut bool, err error) {
	w := &keyWaiter{c: make(chan *container, 1)}
	p.keyWaiters[key] = append(p.keyWaiters[key], w)
	p.mu.Unlock()
	t := time.NewTimer(patience)
	defer t.Stop()
	select {
	case c := <-w.c:
		return c, false, nil
	case <-t.C:
		timedOut = true
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	p.dropKeyWaiterLocked(key, w)
	p.mu.Unlock()
	select {
	case c = <-w.c: // handed over (or woken) meanwhile
	default:
	}
	if err != nil && c != nil {
		p.Release(&Lease{c: c, pool: p}, true)
		c = nil
	}
	return c, timedOut, err
}

func (p *Pool) dropKeyWaiterLocked(key string, w *keyWaiter) {
	ws := p.keyWaiters[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(p.keyWaiters, key)
	} else {
		p.keyWaiters[key] = ws
	}
}

// handOverLocked gives c's free slot to the first activation waiting for
// its key, if any; it reports whether it did.
func (p *Pool) handOverLocked(c *container) bool {
	ws := p.keyWaiters[c.key]
	if len(ws) == 0 || c.dead || !c.initialized || c.active >= c.maxActive {
		return false
	}
	w := ws[0]
	p.dropKeyWaiterLocked(c.key, w)
	c.active++
	c.stopTimer()
	w.c <- c
	return true
}

// wakeKeyWaitersLocked lets every activation waiting for key look again,
// after one of its containers went away.
func (p *Pool) wakeKeyWaitersLocked(key string) {
	for _, w := range p.keyWaiters[key] {
		w.c <- nil
	}
	delete(p.keyWaiters, key)
}

// movingAverage folds sample into the average avg (0: none yet).
func movingAverage(avg, sample time.Duration) time.Duration {
	if avg <= 0 {
		return sample
	}
	return avg + (sample-avg)/8
}

// takeWarm claims a container of req.Key with room for one more
// activation. It may still be running its first activation's /init (an
// action whose concurrency is above 1): the caller then waits for it.
func (p *Pool) takeWarm(req Request) *container {
	for _, c := range p.warm[req.Key] {
		if !c.dead && c.active < c.maxActive {
			c.active++
			c.stopTimer()
			return c
		}
	}
	return nil
}

// reserve books memMB of capacity, evicting least recently used idle warm
// containers when that makes room.
func (p *Pool) reserve(memMB int) bool {
	if p.usedMB+memMB <= p.opts.MemoryMB {
		p.usedMB += memMB
		return true
	}
	var idle []*container
	freeable := 0
	for _, cs := range p.warm {
		for _, c := range cs {
			if c.active == 0 && !c.dead {
				idle = append(idle, c)
				freeable += c.memMB
			}
		}
	}
	if p.usedMB-freeable+memMB > p.opts.MemoryMB {
		return false
	}
	sortByLastUsed(idle)
	for _, c := range idle {
		if p.usedMB+memMB <= p.opts.MemoryMB {
			break
		}
		p.removeLocked(c, "evicted")
	}
	p.usedMB += memMB
	return true
}

func sortByLastUsed(cs []*container) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].lastUsed.Before(cs[j-1].lastUsed); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// newContainer books a container that is yet to be created. The caller
// holds p.mu and has reserved its memory.
func newContainer(spec Spec, key string, concurrency int) *container {
	return &container{key: key, kind: spec.Kind, memMB: spec.MemoryMB,
		maxActive: max(concurrency, 1), active: 1, lastUsed: time.Now(), ready: make(chan struct{})}
}

// start creates the sandbox container of c, which is booked with its
// memory reserved (and, for a warm key, listed so that concurrent
// activations can join it). When the creation fails or the container was
// removed meanwhile (Close), start frees what c held and returns an error.
// The caller is counted in p.bg, so Close waits for start.
func (p *Pool) start(ctx context.Context, c *container, spec Spec) error {
	spec.Name = fmt.Sprintf("%s_%d", p.opts.Owner, p.seq.Add(1))
	spec.Owner = p.opts.Owner
	sc, err := p.sb.Create(ctx, spec)
	p.mu.Lock()
	if err == nil && !c.dead && !p.closed {
		c.Container = sc
		c.logs = newLogCollector(sc.Logs())
		p.mu.Unlock()
		return nil
	}
	if err == nil {
		err = ErrPoolClosed
	}
	p.forgetLocked(c)
	p.wakeNextLocked()
	p.mu.Unlock()
	if sc != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if derr := sc.Destroy(dctx); derr != nil {
			p.log.Warn("destroy container failed", "container", sc.ID(), "err", derr)
		}
	}
	return err
}

func (p *Pool) resume(ctx context.Context, c *container) error {
	c.pauseMu.Lock() // a Pause in progress ends first
	defer c.pauseMu.Unlock()
	p.mu.Lock()
	paused := c.paused
	c.paused = false
	p.mu.Unlock()
	if !paused {
		return nil
	}
	if err := c.Resume(ctx); err != nil {
		p.log.Warn("resume container failed", "container", c.ID(), "err", err)
		return err
	}
	return nil
}

// Release returns a lease. A container that failed (healthy false) is
// destroyed; a healthy one stays warm for its next activation.
func (p *Pool) Release(l *Lease, healthy bool) { p.release(l, healthy) }

// release is Release; it reports whether it handed the container over to
// an activation waiting for one of its key.
func (p *Pool) release(l *Lease, healthy bool) (handedOver bool) {
	c := l.c
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	c.active--
	c.lastUsed = now
	if healthy && !l.since.IsZero() && c.key != "" && c.initialized {
		p.keyRun[c.key] = movingAverage(p.keyRun[c.key], now.Sub(l.since))
	}
	switch {
	case !healthy || p.closed:
		p.removeLocked(c, "failed")
	case p.handOverLocked(c):
		handedOver = true
	case c.active == 0:
		p.armIdleLocked(c)
	}
	p.wakeNextLocked()
	return handedOver
}

// MarkInitialized records that the leased container ran /init.
func (l *Lease) MarkInitialized() {
	now := time.Now()
	l.pool.mu.Lock()
	l.c.initialized = true
	l.c.signalReadyLocked()
	if !l.created.IsZero() {
		l.pool.coldStart = movingAverage(l.pool.coldStart, now.Sub(l.created))
	}
	l.since = now
	l.pool.mu.Unlock()
}

// wakeNextLocked lets the first waiting Acquire try again; with none
// waiting, freed memory goes to the stem cells still missing.
func (p *Pool) wakeNextLocked() {
	if len(p.waiters) == 0 {
		for sk := range p.stemWant {
			p.replenishLocked(sk)
		}
		return
	}
	w := p.waiters[0]
	p.waiters = p.waiters[1:]
	close(w)
}

func (p *Pool) dropWaiterLocked(w chan struct{}) {
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return
		}
	}
	// Already woken: pass the turn on so it is not lost.
	p.wakeNextLocked()
}

// Stats describes the pool's containers.
type Stats struct {
	UsedMB, CapacityMB       int
	Warm, Busy, Paused, Stem int
	Waiting                  int
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{UsedMB: p.usedMB, CapacityMB: p.opts.MemoryMB, Waiting: len(p.waiters)}
	for _, ws := range p.keyWaiters {
		s.Waiting += len(ws)
	}
	for _, cs := range p.warm {
		for _, c := range cs {
			s.Warm++
			if c.active > 0 {
				s.Busy++
			}
			if c.paused {
				s.Paused++
			}
		}
	}
	for _, cs := range p.stems {
		s.Stem += len(cs)
	}
	return s
}

// Close destroys every container and waits until they are gone. It is
// idempotent.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for _, cs := range p.warm {
			for _, c := range append([]*container(nil), cs...) {
				p.removeLocked(c, "shutdown")
			}
		}
		for sk, cs := range p.stems {
			for _, c := range cs {
				c.dead = true
				p.usedMB -= c.memMB
				p.bg.Add(1)
				go func(c *container) { defer p.bg.Done(); p.destroy(c) }(c)
			}
			delete(p.stems, sk)
		}
		for _, w := range p.waiters {
			close(w)
		}
		p.waiters = nil
		for key := range p.keyWaiters {
			p.wakeKeyWaitersLocked(key)
		}
	}
	p.mu.Unlock()
	p.bg.Wait()
}
