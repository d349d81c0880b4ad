package invoker

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// An invoker's home queue (see the package doc) is read by its durable
// consumer home-<queue> alone, until the invoker is gone and the others
// take it over; the shared consumer reads the namespace queues only.
const (
	homeConsumerPrefix = "home-"
	sharedFilter       = hub.InvocationPrefix + "*" // the namespace token only: not the home queues
)

// Members lists the Gust processes advertised now (hub.Hub.Members).
type Members func(ctx context.Context) ([]hub.Member, error)

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
