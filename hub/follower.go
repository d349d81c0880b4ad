package hub

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gusthub/gust/internal/backoff"
)

// Follower keeps a Mirror following a bucket through a watch. A watch can
// end before its context does (the connection to NATS dropped it); the
// Follower then starts another watch, after a pause that grows while
// watches fail to start, into a fresh Mirror. Meanwhile the stopped Mirror
// is never caught up, so readers fall back to the store: a dropped watch
// costs store reads for a while, not for the rest of the process's life.
type Follower[K comparable, T any] struct {
	cur   atomic.Pointer[Mirror[K, T]]
	name  func(*T) K
	watch func(context.Context) (<-chan Change[T], error)
	log   *slog.Logger
}

// Restart pauses between watches: the first restart waits followRetryMin,
// each failed one twice as long, up to followRetryMax.
const (
	followRetryMin = 100 * time.Millisecond
	followRetryMax = 30 * time.Second
)

// Follow starts following the entities, named by name, that watch streams,
// until ctx ends; wg, if not nil, counts the goroutine that follows. When
// the first watch cannot start, it returns that error and follows nothing.
func Follow[K comparable, T any](ctx context.Context, wg *sync.WaitGroup, name func(*T) K,
	watch func(context.Context) (<-chan Change[T], error), log *slog.Logger) (*Follower[K, T], error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ch, err := watch(ctx)
	if err != nil {
		return nil, err
	}
	f := &Follower[K, T]{name: name, watch: watch, log: log}
	m := NewMirror(name)
	f.cur.Store(m)
	if wg == nil {
		go f.run(ctx, m, ch)
	} else {
		wg.Go(func() { f.run(ctx, m, ch) })
	}
	return f, nil
}

// Mirror returns the mirror of the current watch.
func (f *Follower[K, T]) Mirror() *Mirror[K, T] { return f.cur.Load() }

func (f *Follower[K, T]) run(ctx context.Context, m *Mirror[K, T], ch <-chan Change[T]) {
	for {
		m.Follow(ch)
		if ctx.Err() != nil {
			return
		}
		f.log.Warn("bucket watch ended; reading the store until a new one has caught up")
		var ok bool
		if ch, ok = f.restart(ctx); !ok {
			return
		}
		m = NewMirror(f.name)
		f.cur.Store(m)
	}
}

// restart starts a new watch, retrying until it starts or ctx ends.
func (f *Follower[K, T]) restart(ctx context.Context) (<-chan Change[T], bool) {
	b := backoff.Backoff{Min: followRetryMin, Max: followRetryMax}
	for pause := b.Next(); ; {
		if !backoff.Wait(ctx, pause) {
			return nil, false
		}
		ch, err := f.watch(ctx)
		if err == nil {
			return ch, true
		}
		pause = b.Next()
		f.log.Warn("bucket watch did not start", "err", err, "retry_in", pause)
	}
}
