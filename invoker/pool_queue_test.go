package invoker_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gusthub/gust/invoker"
)

// queuedPair leases a container of key "a" to a running activation and
// queues one more behind it, as the pool does for a short action in
// Gust's proxy.
func queuedPair(t *testing.T, p *invoker.Pool) (ahead, queued *invoker.Lease) {
	t.Helper()
	r := req("a")
	r.Spec.ProxySocket = true
	first := acquire(t, p, r)
	first.MarkInitialized()
	time.Sleep(10 * time.Millisecond) // a short run: the key's next ones queue
	p.Release(first, true)
	ahead = acquire(t, p, r)
	queued = acquire(t, p, r)
	if !queued.Queued || queued.Container() != ahead.Container() {
		t.Fatalf("second lease queued %t on %s, want queued behind %s", queued.Queued, queued.Container().ID(), ahead.Container().ID())
	}
	return ahead, queued
}

// TestPoolQueuedNotRunKeepsTheAheadsContainer: the queued activation
// hears that it did not run (released as failed) while the one ahead of
// it still holds the container, reading its answer and logs: the
// container is destroyed once that one is back, not under it.
func TestPoolQueuedNotRunKeepsTheAheadsContainer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 512})
		ahead, queued := queuedPair(t, p)
		id := ahead.Container().ID()
		p.Release(queued, false)
		synctest.Wait()
		if sb.has("destroy " + id) {
			t.Errorf("%s destroyed while the activation ahead still holds it", id)
		}
		p.Release(ahead, false)
		synctest.Wait()
		if !sb.has("destroy " + id) {
			t.Errorf("%s not destroyed once both are back: %v", id, sb.events)
		}
	})
}

// TestPoolFailedAheadKeepsItsMemory: the activation ahead failed while
// one is queued behind it; its container, left to finish the queued one,
// keeps its memory until destroyed, so that the pool starts no container
// beyond its memory meanwhile, and counts as busy in the pool's stats.
func TestPoolFailedAheadKeepsItsMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, sb := newFakePool(t, invoker.PoolOptions{MemoryMB: 128})
		ahead, queued := queuedPair(t, p)
		p.Release(ahead, false)
		if st := p.Stats(); st.Warm != 1 || st.Busy != 1 {
			t.Errorf("stats %+v: want the failed container, still running the queued activation, warm and busy", st)
		}
		got := make(chan *invoker.Lease, 1)
		go func() {
			r := req("a")
			r.Spec.ProxySocket = true
			l, err := p.Acquire(context.Background(), r)
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
		synctest.Wait()
		if n := sb.alive(); n > 1 || p.Stats().UsedMB != 128 {
			t.Errorf("%d containers of 128 MB alive in a pool of 128 MB, %d MB used by its count", n, p.Stats().UsedMB)
		}
		p.Release(queued, true)
		l := <-got
		synctest.Wait()
		if l.Container() == queued.Container() || sb.alive() != 1 {
			t.Errorf("next on %s with %d alive, want a new container once the failed one is gone", l.Container().ID(), sb.alive())
		}
		p.Release(l, true)
	})
}
