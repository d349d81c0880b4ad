package dispatch

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// placer picks the invoker an invocation goes to, from the invokers'
// advertisements, refreshed at most every placementRefresh, and from its
// own sends since: an advert is up to a few seconds old, and judged alone
// it let one controller send every invocation of a second to the home
// queue of an invoker whose slots were long full, while another invoker
// starved (issue 19: the least busy of 3 ran 0.3 of the mean share).
type placer struct {
	members func(ctx context.Context) ([]hub.Member, error) // hub.Hub.Members

	mu       sync.Mutex
	at       time.Time
	invokers []hub.Load // live invokers with a home queue
	readAt   time.Time  // when the advertisements were last read
	live     int        // the processes advertised then, invokers or not
	// running is, by home queue, the blocking invocations this placer sent
	// there that have not completed; queued the others sent there since the
	// view was refreshed (their completion is not seen here, so they count
	// until the next advert does).
	running, queued map[string]int
}

// placementRefresh is how stale the placer's view of the invokers may be:
// invokers advertise every hub.AdvertInterval.
const placementRefresh = time.Second

// view returns the live invokers, refreshing them when stale. One caller
// refreshes; the others meanwhile use the view they have.
func (p *placer) view(ctx context.Context) []hub.Load {
	p.mu.Lock()
	if time.Since(p.at) < placementRefresh {
		defer p.mu.Unlock()
		return p.invokers
	}
	p.at = time.Now() // others use the old view while this one refreshes
	p.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	ms, err := p.members(rctx)
	cancel()
	var inv []hub.Load
	live := 0
	for _, m := range ms {
		if time.Since(m.Seen) >= 3*hub.AdvertInterval {
			continue
		}
		live++
		if m.Invoker != nil && m.Invoker.Queue != "" {
			inv = append(inv, *m.Invoker)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.invokers, p.queued, p.live, p.readAt = inv, nil, live, time.Now()
	}
	return p.invokers
}

// alone reports whether at most one Gust process advertises itself (of
// any role): this one, whose rule engine alone takes events and whose
// invoker alone takes invocations. Unless the advertisements were read
// lately, it is not taken to be alone.
func (p *placer) alone(ctx context.Context) bool {
	if p == nil || p.members == nil {
		return true
	}
	p.view(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Since(p.readAt) < 3*hub.AdvertInterval && p.live < 2
}

// subject is where inv goes: the home queue of the invoker that keeps warm
// containers of its action (the most of them) and has a free slot; else
// that of its home invoker, the first by rendezvous hashing of the action
// on the invokers' queues, when it has a free slot; else the shared queue
// (overflow). With fewer than two invokers everything goes to the shared
// queue, as on one machine. A send to a home queue counts against that
// invoker's slots until the view is refreshed.
func (p *placer) subject(ctx context.Context, inv *actions.Invocation) string {
	subject, _ := p.place(ctx, inv, false)
	return subject
}

// take is subject for an invocation whose completion the caller awaits: a
// send to a home queue counts against that invoker's slots until done is
// called, when the invocation completed or its caller stopped waiting.
func (p *placer) take(ctx context.Context, inv *actions.Invocation) (subject string, done func()) {
	return p.place(ctx, inv, true)
}

func (p *placer) place(ctx context.Context, inv *actions.Invocation, awaited bool) (string, func()) {
	shared := hub.InvocationSubject(inv.Namespace)
	nothing := func() {}
	if p == nil || p.members == nil {
		return shared, nothing
	}
	invokers := p.view(ctx)
	if len(invokers) < 2 {
		return shared, nothing
	}
	action := inv.Action.FullName().String()
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *hub.Load
	var bestScore uint64
	for i := range invokers {
		l := &invokers[i]
		// The advert counts other controllers' sends too, this placer's own
		// counts are newer: the larger is the best guess without counting
		// this placer's twice.
		if l.Slots > 0 && max(l.InFlight, p.running[l.Queue]+p.queued[l.Queue]) >= l.Slots {
			continue // busy: not a candidate
		}
		score := rendezvous(l.Queue, action)
		switch {
		case best == nil,
			l.Warm[action] > best.Warm[action],
			l.Warm[action] == best.Warm[action] && score > bestScore:
			best, bestScore = l, score
		}
	}
	if best == nil {
		return shared, nothing
	}
	q := best.Queue
	if !awaited {
		p.queued = count(p.queued, q, 1)
		return hub.HomeSubject(q, inv.Namespace), nothing
	}
	p.running = count(p.running, q, 1)
	var once sync.Once
	return hub.HomeSubject(q, inv.Namespace), func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.running = count(p.running, q, -1)
		})
	}
}

// count adds n to m[q], making m when nil and dropping q at 0.
func count(m map[string]int, q string, n int) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	if m[q] += n; m[q] <= 0 {
		delete(m, q)
	}
	return m
}

// rendezvous is the highest-random-weight score of an invoker's queue for
// an action: every controller picks the same home for an action, and the
// loss of one invoker moves only its own actions. FNV-1a alone mixes its
// last bytes poorly into the high bits that decide the highest score (one
// of three invokers named q1, q2, q3 was home to 78% of the actions), so
// the sum goes through MurmurHash3's finalizer.
func rendezvous(queue, action string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(queue))
	h.Write([]byte{0})
	h.Write([]byte(action))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
