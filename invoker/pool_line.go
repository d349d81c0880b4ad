package invoker

// Lines: the activations of one warm key that wait for a container, and
// the decision to start new containers for them (see doc.go, "Bursts").

import (
	"context"
	"time"
)

// sustainedWait is the wait in line the pool aims at once a line has
// outlasted a cold start: the queue is then a lasting load, not a burst,
// and each container started serves it long after its cold start (the
// stale threshold of OpenWhisk's scheduler).
const sustainedWait = 100 * time.Millisecond

// keyLine is one warm key's activations waiting for a container, in
// order, with what the pool knows of the key's demand.
type keyLine struct {
	waiters []*keyWaiter
	// since is when the line last began to wait; readyAt when the key
	// last got an initialized container after it had none.
	since, readyAt time.Time
	// starting counts the containers being created for the line.
	starting int
	// run is the mean time an activation of the key runs in its
	// container: as Gust's proxy says (proxy.RunTimeHeader), else how
	// long it held the container.
	run time.Duration
	// spec and concurrency make the key's new containers.
	spec        Spec
	concurrency int
	// timer looks at the line again when, as the running activations go
	// on, their run time alone would call for a new container.
	timer *time.Timer
	// inRoomLine: the line needs a container and waits for memory.
	inRoomLine bool
}

// keyWaiter is an Acquire waiting in line: it gets a claimed container,
// or an error, on ch.
type keyWaiter struct {
	ch    chan grant
	since time.Time
	alone bool // Request.Alone
}

type grant struct {
	c      *container
	how    claim
	queued *Lease // a claimQueue's lease
	err    error
}

// lineLocked returns key's line, made if need be.
func (p *Pool) lineLocked(key string) *keyLine {
	l := p.lines[key]
	if l == nil {
		l = &keyLine{run: p.runs[key]}
		delete(p.runs, key)
		p.lines[key] = l
	}
	return l
}

// maxRuns bounds how many run times of keys without a line the pool
// remembers.
const maxRuns = 4096

// enqueueLocked puts an activation of req in its key's line and starts
// what containers the line now needs.
func (p *Pool) enqueueLocked(req Request) *keyWaiter {
	now := time.Now()
	l := p.lineLocked(req.Key)
	l.spec, l.concurrency = req.Spec, req.Concurrency
	if len(l.waiters) == 0 {
		l.since = now
	}
	w := &keyWaiter{ch: make(chan grant, 1), since: now, alone: req.Alone}
	l.waiters = append(l.waiters, w)
	p.provisionLocked(req.Key)
	return w
}

// await waits for w's grant. When ctx ends first, w leaves the line, and
// what it was granted meanwhile goes back to the pool.
func (p *Pool) await(ctx context.Context, key string, w *keyWaiter) (grant, error) {
	select {
	case g := <-w.ch:
		return g, g.err
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dropWaiterLocked(key, w) {
		if g := <-w.ch; g.c != nil { // served meanwhile
			p.unclaimLocked(g.c, g.how == claimCold)
			if g.queued != nil {
				// Queued behind a run that may have ended meanwhile, its
				// turn begun: either way it leaves.
				g.queued.leaveLocked(time.Now())
			}
			p.serveLocked(key)
			p.idleLocked(g.c)
			p.wakeNextLocked()
		}
	}
	return grant{}, ctx.Err()
}

// dropWaiterLocked takes w out of key's line; it reports false if w was
// no longer in it.
func (p *Pool) dropWaiterLocked(key string, w *keyWaiter) bool {
	l := p.lines[key]
	if l == nil {
		return false
	}
	for i, x := range l.waiters {
		if x == w {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			p.tidyLocked(key)
			return true
		}
	}
	return false
}

// popLocked takes the first waiter out of l.
func (p *Pool) popLocked(key string, l *keyLine) *keyWaiter {
	w := l.waiters[0]
	l.waiters[0] = nil
	l.waiters = l.waiters[1:]
	p.tidyLocked(key)
	return w
}

// tidyLocked forgets a line that holds nothing any more, and stops its
// timer once nobody waits.
func (p *Pool) tidyLocked(key string) {
	l := p.lines[key]
	if l == nil || len(l.waiters) > 0 {
		return
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if l.starting == 0 && len(p.warm[key]) == 0 {
		delete(p.lines, key)
		// The next burst of the key, after its containers expired,
		// scales at once by the run time this one measured.
		if l.run > 0 {
			if len(p.runs) >= maxRuns {
				clear(p.runs)
			}
			p.runs[key] = l.run
		}
	}
}

// serveLocked gives the free slots of key's containers to its line, in
// order.
func (p *Pool) serveLocked(key string) {
	l := p.lines[key]
	for l != nil && len(l.waiters) > 0 {
		c := p.freeLocked(key, false, !l.waiters[0].alone)
		if c == nil {
			return
		}
		p.popLocked(key, l).ch <- p.grantLocked(c)
	}
}

// yieldLocked reports whether c, just left idle, should rather make room
// for another key whose line waits for memory and came first: the line
// of c's key then waits for its turn.
func (p *Pool) yieldLocked(c *container) bool {
	l := p.lines[c.key]
	if c.active > 0 || l == nil || len(l.waiters) == 0 {
		return false
	}
	for _, key := range p.roomLine {
		o := p.lines[key]
		if key != c.key && o != nil && o.inRoomLine && len(o.waiters) > 0 && o.waiters[0].since.Before(l.waiters[0].since) {
			return true
		}
	}
	return false
}

// initializedLocked reports whether key has a live initialized container.
func (p *Pool) initializedLocked(key string) bool {
	for _, c := range p.warm[key] {
		if c.initialized && !c.dead {
			return true
		}
	}
	return false
}

// provisionLocked starts the containers key's line needs now: stem cells
// first, then new ones as memory allows; short of memory, the line waits
// in p.roomLine. It sets the line's timer for when it may need more.
func (p *Pool) provisionLocked(key string) {
	l := p.lines[key]
	if l == nil {
		return
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if p.closed || len(l.waiters) == 0 {
		return
	}
	n, again := p.demandLocked(key, l, time.Now())
	if n > 0 {
		p.log.Debug("line starts containers", "key", key, "count", n, "waiting", len(l.waiters),
			"starting", l.starting, "run", l.run, "cold_start", p.coldLocked(l.spec.Image))
	}
	for range n {
		if c := p.takeStem(key, l.spec, l.concurrency); c != nil {
			p.serveLocked(key)
			continue
		}
		if !p.reserve(l.spec.MemoryMB) {
			if !l.inRoomLine {
				l.inRoomLine = true
				p.roomLine = append(p.roomLine, key)
			}
			break
		}
		p.startLocked(key, l)
	}
	if again > 0 && len(l.waiters) > 0 {
		l.timer = time.AfterFunc(again, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.lines[key] == l && !p.closed {
				p.provisionLocked(key)
			}
		})
	}
}

// lateReads is how late a busy invoker may read its runs' answers: 15–90
// ms were measured while a burst of fired events saturated Gust's one
// thread. A running activation's time raises a run time known to be short
// only once it is longer, as well as longer than a cold start: the
// process sandbox's cold starts take tens of milliseconds, less than that
// delay, and it scaled a no-op out for nothing.
const lateReads = 100 * time.Millisecond

// demandLocked is how many new containers key's line needs now, and how
// long until it should look again (0: at its next event).
//
// A line of W activations on S slots (those of the key's containers and
// of those being created) drains in about W·run/S. A new container helps
// only if that is longer than the horizon h, a cold start: containers are
// added until W·run/S < h. Once the line has lasted longer than a cold
// start since the key had a warm container, the load is lasting and h
// shrinks to sustainedWait. The run time is the key's mean (of the times
// Gust's proxy says its runs took, else of how long they held their
// containers), raised to how long the oldest running activation has run
// so far: once that is longer than a cold start and than lateReads, or
// while no mean is known. Until then it may be the invoker's own delay,
// not the action's: an invoker whose process is busy reads answers late,
// and holds its containers for tens of milliseconds that another
// container would not take away. While neither time is known, nor the
// cold start time, the line starts one container and learns from it. It
// never starts more than its waiters can use.
func (p *Pool) demandLocked(key string, l *keyLine, now time.Time) (n int, again time.Duration) {
	per := max(l.concurrency, 1)
	waiting := len(l.waiters)
	live, ready := 0, false
	var oldest time.Time // the earliest start of a running activation
	for _, c := range p.warm[key] {
		if c.dead {
			continue
		}
		live++
		waiting += len(c.behind) // queued at its proxy: waiting too
		if c.initialized {
			ready = true
			for _, r := range c.running {
				if oldest.IsZero() || r.since.Before(oldest) {
					oldest = r.since
				}
			}
		}
	}
	uncovered := waiting - l.starting*per
	if uncovered <= 0 {
		return 0, 0
	}
	most := (uncovered + per - 1) / per
	least := 0
	if live+l.starting == 0 {
		least = 1
	}
	run, cold := l.run, p.coldLocked(l.spec.Image)
	trust := max(cold, lateReads) // when a running activation's time is the action's
	var ran time.Duration
	if !oldest.IsZero() {
		ran = now.Sub(oldest)
		if run <= 0 || ran >= trust {
			run = max(run, ran)
		}
	}
	if cold <= 0 || oldest.IsZero() && run <= 0 {
		return min(least, most), 0
	}
	h := cold
	var lasting time.Duration // until the line counts as a lasting load
	if ready {
		start := l.since
		if l.readyAt.After(start) {
			start = l.readyAt
		}
		age := now.Sub(start)
		if age >= cold {
			h = min(cold, sustainedWait)
		} else if cold > sustainedWait {
			lasting = cold - age
		}
	}
	slots := (live + l.starting) * per
	want := int(int64(waiting)*int64(run)/int64(h)) + 1 // slots that drain it within h
	n = min(max((want-slots+per-1)/per, least), most)
	if n < most && !oldest.IsZero() {
		// The running activations' time alone calls for one more slot
		// once run reaches next.
		have := slots + n*per
		next := time.Duration((int64(have)*int64(h) + int64(waiting) - 1) / int64(waiting))
		if l.run > 0 {
			next = max(next, trust)
		}
		if next > ran {
			again = next - ran
		}
	}
	if lasting > 0 && (again == 0 || lasting < again) {
		again = lasting
	}
	return n, again
}

// startLocked creates a container for key's line in the background, its
// memory reserved; once up, it serves the first waiter still in line.
func (p *Pool) startLocked(key string, l *keyLine) {
	l.starting++
	c := p.newContainer(l.spec, key, l.concurrency)
	spec := l.spec
	p.bg.Add(1) // Close waits for containers being created
	go func() {
		defer p.bg.Done()
		err := p.create(c, spec)
		p.mu.Lock()
		defer p.mu.Unlock()
		l.starting--
		if err != nil {
			c.dead = true
			p.usedMB -= c.memMB
			p.failLineLocked(key, err, false)
			p.tidyLocked(key)
			p.wakeNextLocked()
			return
		}
		c.fresh = true
		p.warm[key] = append(p.warm[key], c)
		p.serveLocked(key)
		p.idleLocked(c)
		p.provisionLocked(key)
	}()
}

// failLineLocked fails the waiters of key's line that a container start
// that failed with err was for: all of them when the line has no other
// container to wait for (or all is set), else the first.
func (p *Pool) failLineLocked(key string, err error, all bool) {
	l := p.lines[key]
	if l == nil {
		return
	}
	if !all && l.starting == 0 {
		all = true
		for _, c := range p.warm[key] {
			if !c.dead {
				all = false
				break
			}
		}
	}
	for len(l.waiters) > 0 {
		p.popLocked(key, l).ch <- grant{err: err}
		if !all {
			break
		}
	}
}
