package invoker

import (
	"context"
	"errors"
	"fmt"
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
		infos, err := consumerInfos(ctx, st)
		if err != nil {
			iv.log.Warn("list the invocation queue's consumers; trying again", "err", err)
			continue
		}
		var orphans []string
		for _, ci := range infos {
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
		iv.log.Warn("take over the invocations of an invoker that is gone; trying again", "consumer", name, "err", err)
		return
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(iv.opts.MaxInFlight, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			iv.log.Warn("take over the invocations of an invoker that is gone; trying again", "consumer", name, "err", err)
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
			if err := iv.invocations.Decode(msg.Data(), &inv); err != nil {
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
	infos, err := consumerInfos(ctx, st)
	if err != nil {
		return 0, false
	}
	for _, ci := range infos {
		if ci.NumPending > 0 || ci.NumAckPending > 0 {
			floor = min(floor, ci.AckFloor.Stream)
		}
	}
	return floor, true
}

// consumerInfos returns the state of every consumer of st, or an error.
// JetStream's listing leaves out, without an error, the consumers whose
// leader does not answer in time, such as the home queue of an invoker
// killed a moment ago while its consumer elects a new leader: trimmed on
// such a listing, the queue lost the invocations waiting there. So the
// names (which the meta leader knows) are listed too, a consumer left out
// is asked for alone, and one that does not answer fails the whole.
func consumerInfos(ctx context.Context, st jetstream.Stream) ([]*jetstream.ConsumerInfo, error) {
	names := st.ConsumerNames(ctx)
	want := map[string]bool{}
	for name := range names.Name() {
		want[name] = true
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("list consumer names: %w", err)
	}
	var out []*jetstream.ConsumerInfo
	lister := st.ListConsumers(ctx)
	for ci := range lister.Info() {
		delete(want, ci.Name)
		out = append(out, ci)
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("list consumers: %w", err)
	}
	for name := range want {
		c, err := st.Consumer(ctx, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("consumer %s, which the listing left out: %w", name, err)
		}
		out = append(out, c.CachedInfo())
	}
	return out, nil
}
