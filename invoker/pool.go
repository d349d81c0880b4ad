package invoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gusthub/gust/internal/backoff"
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
	// QueueRuns lets short concurrency-1 activations queue, up to two, at
	// a busy container's proxy behind the one that runs (`gust serve
	// --queue-runs`, on by default).
	QueueRuns bool
}

// Pool keeps action containers: warm ones keyed by namespace and action
// version, and stem cells per kind and memory that have no code yet. It
// bounds their memory, evicting the least recently used idle warm
// containers, and queues requests in order when it is full.
//
// An activation that finds no free warm container of its key waits in the
// key's line (pool_line.go) and takes whichever container frees first: a
// warm one finishing its activation, or a new one coming up. The line
// starts new containers only as its demand needs them: by the queued work
// (waiting activations times the key's run time) against the time a cold
// start takes. A burst for a fast action so runs on a container or two,
// while a slow action scales out up to the pool's memory.
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
	stemPause map[string]*backoff.Backoff
	stemRetry map[string]time.Time
	// lines are the activations waiting for a container, by warm key,
	// with the key's demand; roomLine the keys whose lines need a new
	// container and wait for memory, first come first served.
	lines    map[string]*keyLine
	roomLine []string
	// runs keeps the run time of keys whose lines are gone.
	runs map[string]time.Duration
	// later holds the failed containers to destroy once the activation
	// queued behind the failed one is back (container.destroyLater).
	later map[*container]bool
	// colds is the mean time a cold start takes (create and /init), a
	// moving average by image (runtime kinds and blackbox images start
	// in very different times), "" for every image.
	colds  map[string]time.Duration
	closed bool
	seq    atomic.Int64
	bg     sync.WaitGroup
}

// container is a sandbox container with its pool bookkeeping.
type container struct {
	Container
	key         string // warm key; "" for a stem cell
	stemKey     string
	kind        string
	image       string
	memMB       int
	maxActive   int
	active      int
	initialized bool
	// fresh: the container is up, no activation has claimed it yet, and
	// the one that does runs /init. created: it was created for its key
	// (not a stem cell), in createTook; with its /init, that is a sample
	// of the cold start time.
	fresh      bool
	created    bool
	createTook time.Duration
	paused     bool
	dead       bool
	lastUsed   time.Time
	// running are the leases of the activations started in it (their
	// since set): a cold one running /init, a lead that may wait at the
	// proxy, a reserved one about to send its /run. How long the oldest
	// has run is a lower bound of the key's run time. Not the time since
	// the container was last idle: under a steady load of short
	// activations, a container that runs several at once may never be
	// idle, and that time would grow without bound.
	running []*Lease
	timer   *time.Timer
	logs    *logCollector
	// ready is closed once the container ran /init or was removed: other
	// activations of a concurrent action wait for it before their /run.
	ready       chan struct{}
	readyClosed bool
	// pauseMu orders a Pause in progress before the Resume of the next
	// activation.
	pauseMu sync.Mutex
	// queues: the container runs one activation at a time behind Gust's
	// proxy, which can queue more /runs (proxy.QueueHeader); behind are
	// the leases of the activations queued behind the running one, up to
	// maxBehind, in the order they were granted. destroyLater: the
	// container failed while others were still out; it keeps its memory
	// and is destroyed once their leases are back.
	queues       bool
	behind       []*Lease
	destroyLater bool
	// resuming: the engine is thawing the container for the activation
	// that claimed it. None queues behind it meanwhile: if it stays
	// frozen, theirs would wait for nothing.
	resuming bool
}

// queues reports whether containers of spec running an action of the
// given concurrency take a queued activation (see container.queues).
func (p *Pool) queues(spec Spec, concurrency int) bool {
	return p.opts.QueueRuns && spec.ProxySocket && concurrency <= 1
}

// maxQueuedRun is the longest mean run time of a key whose activations
// queue behind a running one: the queue saves the invoker's round trip
// between two runs (about a millisecond; more on a busy machine), worth
// it for short runs only. An activation queued behind a long one could
// have taken a container freed or started meanwhile, and queued
// activations leave the line short, so that the pool starts fewer
// containers: an action that waits 50 ms on I/O gains more from those
// than from a millisecond saved per run.
const maxQueuedRun = 25 * time.Millisecond

// maxBehind is how many activations queue at a container's proxy behind
// the running one. One more than one: the next /run is then sent while
// two runs are still ahead of it, so that a late wake-up of the invoker
// on a busy machine does not leave the action idle.
const maxBehind = 2

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
		warm: map[string][]*container{}, stems: map[string][]*container{}, lines: map[string]*keyLine{}, runs: map[string]time.Duration{}, later: map[*container]bool{}, colds: map[string]time.Duration{},
		stemSpec: map[string]Spec{}, stemWant: map[string]int{}, stemHave: map[string]int{},
		stemPause: map[string]*backoff.Backoff{}, stemRetry: map[string]time.Time{}}
}

// Lease is a container acquired for one activation.
type Lease struct {
	c    *container
	pool *Pool
	// Cold reports that the container has not run /init yet: the
	// activation runs it.
	Cold bool
	// since is when the container started serving the activation: the
	// lease, or for a cold one the end of /init; for a queued one, when
	// the activation ahead released the container (zero until then).
	since time.Time
	// Queued reports that the activation waits at the container's proxy
	// behind the one running there (proxy.QueueHeader): its time limit
	// starts when the proxy starts it.
	Queued bool
	// took, when known, is how long the activation ran in the container
	// (Gust's proxy says, proxy.RunTimeHeader): the key's run time is
	// sampled from it rather than from how long the lease was held.
	took time.Duration
}

// startLocked notes that l's activation starts running in its container
// at now.
func (l *Lease) startLocked(now time.Time) {
	l.since = now
	l.c.running = append(l.c.running, l)
}

// leaveLocked takes l, given back, out of its container's running and
// queued leases: one that leaves before its turn only leaves the queue,
// else the first queued behind it runs now.
func (l *Lease) leaveLocked(now time.Time) {
	c := l.c
	if i := slices.Index(c.running, l); i >= 0 {
		c.running = slices.Delete(c.running, i, i+1)
	}
	switch i := slices.Index(c.behind, l); {
	case i >= 0: // it left before its turn
		c.behind = slices.Delete(c.behind, i, i+1)
	case len(c.behind) > 0: // the first queued behind l runs now
		c.behind[0].startLocked(now)
		c.behind = slices.Delete(c.behind, 0, 1)
	}
}

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
	// Alone: the activation does not queue behind another at a
	// container's proxy (Lease.Queued).
	Alone bool
}

// claim says how an activation got its container.
type claim int

const (
	claimWarm  claim = iota // initialized: run at once
	claimCold               // fresh: the activation runs /init
	claimJoin               // another activation runs /init: wait for it
	claimQueue              // queue behind the running activation (container.queues)
)

// Acquire returns a container for req: a free warm one, else whichever of
// the key's containers frees or comes up first while req waits in line.
func (p *Pool) Acquire(ctx context.Context, req Request) (*Lease, error) {
	if req.Concurrency < 1 {
		req.Concurrency = 1
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		if req.Spec.MemoryMB > p.opts.MemoryMB {
			p.mu.Unlock()
			return nil, fmt.Errorf("action needs %d MB, more than the invoker's %d MB", req.Spec.MemoryMB, p.opts.MemoryMB)
		}
		var g grant
		if c := p.freeLocked(req.Key, true, !req.Alone); c != nil {
			g = p.grantLocked(c)
			p.mu.Unlock()
		} else {
			w := p.enqueueLocked(req)
			p.mu.Unlock()
			var err error
			if g, err = p.await(ctx, req.Key, w); err != nil {
				return nil, err
			}
		}
		c := g.c
		cold := g.how == claimCold
		switch g.how {
		case claimQueue:
			return g.queued, nil
		case claimJoin:
			if !p.awaitInit(ctx, c) {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				continue
			}
		}
		if l := p.leased(ctx, c, cold); l != nil {
			return l, nil
		}
	}
}

// leased is the lease of c, whose slot an activation claimed (cold: it runs
// /init), once c is resumed: any container may be paused, a fresh one too
// (nobody took it for PauseGrace), and its /init would wait for good. It
// is nil, the claim given back and c destroyed, when c cannot be resumed.
func (p *Pool) leased(ctx context.Context, c *container, cold bool) *Lease {
	l := &Lease{c: c, pool: p, Cold: cold}
	if err := p.resume(ctx, l); err != nil {
		p.Release(l, false)
		return nil
	}
	return l
}

// TryWarm returns a lease on a warm container of key that is free now
// (initialized, with room for one more activation, and no activation of
// key waiting in line for one), resumed if it was paused, or nil: it never
// waits, starts a container or queues behind a running activation.
func (p *Pool) TryWarm(ctx context.Context, key string) *Lease {
	p.mu.Lock()
	c := p.freeLocked(key, true, false)
	if p.closed || c == nil || !c.initialized {
		p.mu.Unlock()
		return nil
	}
	p.grantLocked(c) // claimWarm: initialized, and a slot is free
	p.mu.Unlock()
	return p.leased(ctx, c, false)
}

// HasWarm reports whether key has a container here that ran /init, free
// or not: an activation that waits in key's line (Acquire) is then served
// by a warm container as soon as one frees, not only by a cold start.
func (p *Pool) HasWarm(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.warm[key] {
		if c.initialized && !c.dead {
			return true
		}
	}
	return false
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
	p.serveLocked(c.key)
	p.idleLocked(c)
	p.wakeNextLocked()
	return false
}

// freeLocked returns a live container of key with room for one more
// activation, unclaimed, or nil: an initialized running one first, then
// a paused one, one being initialized (concurrent actions), a fresh one,
// and last, with queue and when the key's runs are short, a running one
// that queues (claimQueue). With ifNoLine it returns nil while
// activations of key wait in line, so that a newcomer does not pass them.
func (p *Pool) freeLocked(key string, ifNoLine, queue bool) *container {
	if l := p.lines[key]; ifNoLine && l != nil && len(l.waiters) > 0 {
		return nil
	}
	var best *container
	bestRank := 4
	for _, c := range p.warm[key] {
		if c.dead || c.active >= c.maxActive {
			continue
		}
		rank := 3
		switch {
		case c.initialized && !c.paused:
			rank = 0
		case c.initialized:
			rank = 1
		case !c.fresh:
			rank = 2
		}
		if rank < bestRank {
			best, bestRank = c, rank
		}
	}
	if best == nil && queue && p.shortRunsLocked(key) {
		for _, c := range p.warm[key] {
			if c.queues && !c.dead && c.initialized && !c.paused && !c.resuming && c.active == c.maxActive+len(c.behind) &&
				len(c.behind) < maxBehind && (best == nil || len(c.behind) < len(best.behind)) {
				best = c
			}
		}
	}
	return best
}

// shortRunsLocked reports whether key's mean run time is known and short
// enough for its activations to queue (maxQueuedRun).
func (p *Pool) shortRunsLocked(key string) bool {
	run := p.runs[key]
	if l := p.lines[key]; l != nil {
		run = l.run
	}
	return run > 0 && run <= maxQueuedRun
}

// grantLocked claims a slot of c, which freeLocked returned; a queued
// claim comes with its lease.
func (p *Pool) grantLocked(c *container) grant {
	g := grant{c: c, how: p.claimLocked(c)}
	if g.how == claimQueue {
		g.queued = &Lease{c: c, pool: p, Queued: true}
		c.behind = append(c.behind, g.queued)
	}
	return g
}

// claimLocked takes one of c's free slots for an activation.
func (p *Pool) claimLocked(c *container) claim {
	c.active++
	c.stopTimer()
	switch {
	case c.active > c.maxActive:
		return claimQueue
	case c.fresh:
		c.fresh = false
		return claimCold
	case !c.initialized:
		return claimJoin
	}
	return claimWarm
}

// unclaimLocked gives back an activation's slot of c. A container whose
// /init the activation was to run (cold) and did not is fresh again, for
// the next one to initialize, or removed if others joined it meanwhile:
// they would wait for an /init nobody runs.
func (p *Pool) unclaimLocked(c *container, cold bool) {
	c.active--
	if !cold || c.initialized || c.dead {
		return
	}
	if c.active == 0 {
		c.fresh = true
	} else {
		p.removeLocked(c, "abandoned")
	}
}

// idleLocked arms the idle timers of c once no activation uses it.
func (p *Pool) idleLocked(c *container) {
	if c.active > 0 || c.dead {
		return
	}
	c.lastUsed = time.Now()
	p.armIdleLocked(c)
}

// sampleColdLocked folds a cold start of a container of image into the
// averages.
func (p *Pool) sampleColdLocked(image string, d time.Duration) {
	if _, ok := p.colds[image]; !ok && len(p.colds) >= maxRuns {
		clear(p.colds)
	}
	p.colds[image] = movingAverage(p.colds[image], d)
	if image != "" {
		p.colds[""] = movingAverage(p.colds[""], d)
	}
}

// coldLocked is the time a cold start of a container of image takes: its
// image's average, else that of every image; 0 while none is known.
func (p *Pool) coldLocked(image string) time.Duration {
	if d, ok := p.colds[image]; ok {
		return d
	}
	return p.colds[""]
}

// movingAverage folds sample into the average avg (0: none yet).
func movingAverage(avg, sample time.Duration) time.Duration {
	if avg <= 0 {
		return sample
	}
	return avg + (sample-avg)/8
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
func (p *Pool) newContainer(spec Spec, key string, concurrency int) *container {
	return &container{key: key, kind: spec.Kind, image: spec.Image, memMB: spec.MemoryMB,
		maxActive: max(concurrency, 1), lastUsed: time.Now(), ready: make(chan struct{}),
		queues: key != "" && p.queues(spec, concurrency)}
}

// createTimeout bounds the creation of a container (create, start, until
// its proxy answers). It runs under no activation's context: it serves
// its key's whole line, whoever in it takes it.
const createTimeout = 2 * time.Minute

// create makes the sandbox container of c, which is booked with its
// memory reserved but listed nowhere yet. When the creation fails or the
// pool closed meanwhile, create destroys what it made and returns an
// error: the caller frees c's memory. The caller is counted in p.bg, so
// Close waits for create.
func (p *Pool) create(c *container, spec Spec) error {
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	spec.Name = fmt.Sprintf("%s_%d", p.opts.Owner, p.seq.Add(1))
	spec.Owner = p.opts.Owner
	t0 := time.Now()
	sc, err := p.sb.Create(ctx, spec)
	p.mu.Lock()
	if err == nil && !p.closed {
		c.Container = sc
		c.logs = newLogCollector(sc.Logs())
		c.created, c.createTook = true, time.Since(t0)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if err == nil {
		err = ErrPoolClosed
	}
	if sc != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if derr := sc.Destroy(dctx); derr != nil {
			p.log.Warn("destroy container failed", "container", sc.ID(), "err", derr)
		}
	}
	return err
}

// resume resumes l's container if it is paused, and then starts l's
// activation on it (startLocked).
func (p *Pool) resume(ctx context.Context, l *Lease) error {
	c := l.c
	c.pauseMu.Lock() // a Pause in progress ends first
	defer c.pauseMu.Unlock()
	p.mu.Lock()
	paused := c.paused
	c.paused = false
	c.resuming = paused
	if !paused {
		l.startLocked(time.Now())
	}
	p.mu.Unlock()
	if !paused {
		return nil
	}
	err := c.Resume(ctx)
	p.mu.Lock()
	c.resuming = false
	if err == nil {
		l.startLocked(time.Now())
		p.serveLocked(c.key) // the line may queue behind it now
	}
	p.mu.Unlock()
	if err != nil {
		p.log.Warn("resume container failed", "container", c.ID(), "err", err)
	}
	return err
}

// Release returns a lease. A container that failed (healthy false) is
// destroyed; a healthy one stays warm for its next activation.
func (p *Pool) Release(l *Lease, healthy bool) { p.release(l, healthy) }

// releaseUnused returns a lease that ran nothing, so that it says nothing
// of the key's run time.
func (p *Pool) releaseUnused(l *Lease) { p.giveBack(l, true, false) }

// release is Release; it reports whether it handed the container over to
// an activation waiting in its key's line.
func (p *Pool) release(l *Lease, healthy bool) (handedOver bool) { return p.giveBack(l, healthy, true) }

// giveBack is release; ran says whether l's activation ran, so that its
// time is one of the key's run times.
func (p *Pool) giveBack(l *Lease, healthy, ran bool) (handedOver bool) {
	c := l.c
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unclaimLocked(c, l.Cold)
	l.leaveLocked(now)
	if c.destroyLater && c.active == 0 {
		p.destroyLaterDoneLocked(c)
	}
	c.lastUsed = now
	if ran && healthy && !l.since.IsZero() && c.key != "" && c.initialized {
		if ln := p.lines[c.key]; ln != nil {
			held := now.Sub(l.since)
			if l.took > 0 && l.took < held {
				// The rest is the invoker's own delay (its process busy,
				// the answer not read yet): another container would not
				// take it away.
				held = l.took
			}
			ln.run = movingAverage(ln.run, held)
		}
	}
	if !healthy || p.closed {
		if c.queues && c.active > 0 && !c.dead && !p.closed {
			// Activations queued with l are still out: they may be
			// running, or about to hear from the proxy that they did not
			// run. Destroying the container would cut them off. It
			// keeps its memory until then: it runs them in it.
			c.destroyLater = true
			p.later[c] = true
			p.forgetLocked(c)
			p.usedMB += c.memMB
		} else {
			p.removeLocked(c, "failed")
		}
		p.wakeNextLocked()
		return false
	}
	before := c.active
	if !p.yieldLocked(c) {
		p.serveLocked(c.key)
	}
	p.wakeNextLocked()
	p.serveLocked(c.key)
	p.idleLocked(c)
	return c.active > before
}

// destroyLaterDoneLocked destroys c, which waited for its queued
// activation (container.destroyLater).
func (p *Pool) destroyLaterDoneLocked(c *container) {
	c.destroyLater = false
	delete(p.later, c)
	p.usedMB -= c.memMB
	p.destroyLocked(c)
}

// MarkInitialized records that the leased container ran /init.
func (l *Lease) MarkInitialized() {
	now := time.Now()
	p, c := l.pool, l.c
	p.mu.Lock()
	defer p.mu.Unlock()
	first := !p.initializedLocked(c.key)
	c.initialized = true
	c.signalReadyLocked()
	if c.created && c.key != "" {
		p.sampleColdLocked(c.image, c.createTook+now.Sub(l.since))
		c.created = false
	}
	l.since = now // its run starts after its /init
	if ln := p.lines[c.key]; ln != nil {
		if first {
			ln.readyAt = now
		}
		p.provisionLocked(c.key) // the line may scale out as this run goes on
	}
}

// wakeNextLocked lets the keys waiting for memory try again, in order;
// with none waiting, freed memory goes to the stem cells still missing.
func (p *Pool) wakeNextLocked() {
	for len(p.roomLine) > 0 {
		key := p.roomLine[0]
		p.roomLine = p.roomLine[1:]
		l := p.lines[key]
		if l == nil || !l.inRoomLine {
			continue
		}
		l.inRoomLine = false
		p.provisionLocked(key)
		if l.inRoomLine { // still no room: it keeps its turn
			p.roomLine = append([]string{key}, slices.DeleteFunc(p.roomLine, func(k string) bool { return k == key })...)
			return
		}
	}
	for sk := range p.stemWant {
		p.replenishLocked(sk)
	}
}

// Stats describes the pool's containers.
type Stats struct {
	UsedMB, CapacityMB       int
	Warm, Busy, Paused, Stem int
	// Waiting counts the activations waiting for a container, Starting
	// the containers being created for them.
	Waiting, Starting int
	// Queued counts the activations queued at a container's proxy behind
	// the one running there (Lease.Queued).
	Queued int
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{UsedMB: p.usedMB, CapacityMB: p.opts.MemoryMB}
	for _, l := range p.lines {
		s.Waiting += len(l.waiters)
		s.Starting += l.starting
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
			s.Queued += len(c.behind)
		}
	}
	for _, cs := range p.stems {
		s.Stem += len(cs)
	}
	for c := range p.later {
		// A failed container left to run the activations queued behind
		// it still runs them, and holds its memory (UsedMB).
		s.Warm++
		s.Busy++
		s.Queued += len(c.behind)
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
		for key := range p.lines {
			p.failLineLocked(key, ErrPoolClosed, true)
		}
		for c := range p.later {
			p.destroyLaterDoneLocked(c)
		}
		p.roomLine = nil
	}
	p.mu.Unlock()
	p.bg.Wait()
}
