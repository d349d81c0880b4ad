package invoker

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// Placement (see the package doc): an invocation goes to the shared queue
// gust.invocation.<ns>, or to one invoker's home queue
// gust.invocation.home.<queue>.<ns>, which only that invoker's durable
// consumer home-<queue> reads, until the invoker is gone and the others
// take it over.
const (
	homePrefix         = invokePrefix + "home."
	homeConsumerPrefix = "home-"
	sharedFilter       = invokePrefix + "*" // the namespace token only: not the home queues
)

func homeSubject(queue, ns string) string { return homePrefix + queue + "." + hub.EncodeToken(ns) }

// Members lists the Gust processes advertised now (hub.Hub.Members).
type Members func(ctx context.Context) ([]hub.Member, error)

// placer picks the invoker an invocation goes to, from the invokers'
// advertisements, refreshed at most every placementRefresh.
type placer struct {
	members Members

	mu       sync.Mutex
	at       time.Time
	invokers []hub.Load // live invokers with a home queue
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
	for _, m := range ms {
		if m.Invoker != nil && m.Invoker.Queue != "" && time.Since(m.Seen) < 3*hub.AdvertInterval {
			inv = append(inv, *m.Invoker)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.invokers = inv
	}
	return p.invokers
}

// subject is where inv goes: the home queue of the invoker that keeps warm
// containers of its action (the most of them) and has a free slot; else
// that of its home invoker, the first by rendezvous hashing of the action
// on the invokers' queues, when it has a free slot; else the shared queue
// (overflow). With fewer than two invokers everything goes to the shared
// queue, as on one machine.
func (p *placer) subject(ctx context.Context, inv *actions.Invocation) string {
	shared := invokeSubject(inv.Namespace)
	if p == nil || p.members == nil {
		return shared
	}
	invokers := p.view(ctx)
	if len(invokers) < 2 {
		return shared
	}
	action := inv.Action.FullName().String()
	var best *hub.Load
	var bestScore uint64
	for i := range invokers {
		l := &invokers[i]
		if l.Slots > 0 && l.InFlight >= l.Slots {
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
		return shared
	}
	return homeSubject(best.Queue, inv.Namespace)
}

// rendezvous is the highest-random-weight score of an invoker's queue for
// an action: every controller picks the same home for an action, and the
// loss of one invoker moves only its own actions.
func rendezvous(queue, action string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(queue))
	h.Write([]byte{0})
	h.Write([]byte(action))
	return h.Sum64()
}

// Takeover of the home queues of invokers that are gone: every
// takeoverInterval an invoker looks for home consumers whose invoker has
// not advertised itself for takeoverAfter, and runs what waits there.
const (
	takeoverInterval = 3 * time.Second
	takeoverAfter    = 5 * time.Second
)

// takeOver runs, until ctx ends, the invocations left in the home queues
// of invokers that are gone. An invocation the gone invoker had taken and
// not finished comes back after invokeAckWait and runs here, once (take
// checks for its record first), exactly as on the shared queue.
func (iv *Invoker) takeOver(ctx context.Context, st jetstream.Stream) {
	t := time.NewTicker(takeoverInterval)
	defer t.Stop()
	missing := map[string]time.Time{} // home queue → first seen without its invoker
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ms, err := iv.members(ctx)
		if err != nil {
			continue
		}
		live := map[string]bool{}
		for _, m := range ms {
			if m.Invoker != nil {
				live[m.Invoker.Queue] = true
			}
		}
		lister := st.ListConsumers(ctx)
		var orphans []string
		for ci := range lister.Info() {
			q, ok := strings.CutPrefix(ci.Name, homeConsumerPrefix)
			if !ok || q == iv.queue || live[q] {
				delete(missing, q)
				continue
			}
			if _, seen := missing[q]; !seen {
				missing[q] = time.Now()
			}
			if time.Since(missing[q]) >= takeoverAfter && (ci.NumPending > 0 || ci.NumAckPending > 0) {
				orphans = append(orphans, ci.Name)
			}
		}
		for _, name := range orphans {
			iv.drain(ctx, st, name)
		}
	}
}

// drain runs the invocations waiting on consumer name until it has none
// ready for delivery.
func (iv *Invoker) drain(ctx context.Context, st jetstream.Stream, name string) {
	cons, err := st.Consumer(ctx, name)
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(iv.opts.MaxInFlight, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		n := 0
		for msg := range batch.Messages() {
			n++
			if n == 1 {
				iv.log.Info("taking over the invocations of an invoker that is gone", "consumer", name)
			}
			var inv actions.Invocation
			if err := json.Unmarshal(msg.Data(), &inv); err != nil {
				_ = msg.Term()
				continue
			}
			wg.Go(func() { iv.take(ctx, msg, &inv) })
		}
		wg.Wait()
		if n == 0 {
			return
		}
	}
}

// queueFloor is the sequence below which every invocation of the queue
// was taken and acknowledged, by every consumer: a consumer with nothing
// pending or unacknowledged holds nothing back (the stream's last
// sequence is read first, so what arrives meanwhile lies above it);
// another holds back everything above its ack floor.
func queueFloor(ctx context.Context, st jetstream.Stream) (uint64, bool) {
	info, err := st.Info(ctx)
	if err != nil {
		return 0, false
	}
	floor := info.State.LastSeq
	lister := st.ListConsumers(ctx)
	for ci := range lister.Info() {
		if ci.NumPending > 0 || ci.NumAckPending > 0 {
			floor = min(floor, ci.AckFloor.Stream)
		}
	}
	if lister.Err() != nil {
		return 0, false
	}
	return floor, true
}
