package hub_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/hub"
)

// watches is a watch function whose watches the test controls: each call
// takes the next result of starts and hands the test its watch.
type watches struct {
	starts  chan error
	started chan fakeWatch
}

func newWatches() *watches {
	return &watches{starts: make(chan error, 4), started: make(chan fakeWatch, 4)}
}

// fakeWatch is one watch: changes sent on ch reach the follower; end ends
// the watch, as its context's end does.
type fakeWatch struct {
	ch  chan hub.Change[pkg]
	end func()
}

func (w *watches) watch(ctx context.Context) (<-chan hub.Change[pkg], error) {
	select {
	case err := <-w.starts:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	in, out := make(chan hub.Change[pkg]), make(chan hub.Change[pkg])
	ended := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(out)
		for {
			select {
			case c := <-in:
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			case <-ended:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	w.started <- fakeWatch{ch: in, end: func() { once.Do(func() { close(ended) }) }}
	return out, nil
}

// pkg is an entity named "ns/name".
type pkg struct{ Namespace, Name string }

func pkgName(p *pkg) string { return p.Namespace + "/" + p.Name }

// load sends one package and the end of the initial values on w.
func (w fakeWatch) load(name string, rev uint64) {
	w.ch <- hub.Change[pkg]{Key: name, Value: pkg{Namespace: "guest", Name: name}, Revision: rev}
	w.ch <- hub.Change[pkg]{Ready: true}
}

func TestFollowerRestartsAnEndedWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	w := newWatches()
	w.starts <- nil
	f, err := hub.Follow(ctx, &wg, pkgName, w.watch, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := <-w.started
	first.load("p1", 1)
	m := f.Mirror()
	if !m.CaughtUp(1, time.After(5*time.Second)) {
		t.Fatal("the first mirror did not catch up")
	}

	// The watch ends: the mirror stops, readers go to the store, and after
	// a failed start a new watch fills a new mirror.
	w.starts <- errors.New("no connection")
	w.starts <- nil
	first.end()
	deadline := time.After(10 * time.Second)
	var second fakeWatch
	select {
	case second = <-w.started:
	case <-deadline:
		t.Fatal("no new watch within 10 s")
	}
	if m.CaughtUp(0, time.After(time.Millisecond)) {
		t.Error("the ended watch's mirror still says it is caught up")
	}
	second.load("p2", 2)
	for f.Mirror() == m {
		select {
		case <-deadline:
			t.Fatal("the follower kept the stopped mirror")
		case <-time.After(time.Millisecond):
		}
	}
	m2 := f.Mirror()
	if !m2.CaughtUp(2, time.After(5*time.Second)) {
		t.Fatal("the new mirror did not catch up")
	}
	if _, _, ok := m2.Get("guest/p2"); !ok {
		t.Error("the new mirror lacks what the new watch brought")
	}
}

func TestFollowerFirstWatchFails(t *testing.T) {
	w := newWatches()
	w.starts <- errors.New("no JetStream")
	if _, err := hub.Follow(context.Background(), nil, pkgName, w.watch, nil); err == nil {
		t.Fatal("Follow succeeded without a watch")
	}
}

func TestFollowerStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	w := newWatches()
	w.starts <- nil
	if _, err := hub.Follow(ctx, &wg, pkgName, w.watch, nil); err != nil {
		t.Fatal(err)
	}
	<-w.started
	cancel() // ends the watch, and the follower does not start another
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the follower did not stop with its context")
	}
}
