package actions

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gusthub/gust/hub"
)

// Cache reads actions, without code, and packages from in-memory mirrors
// of a Store's buckets, for the hot path of invocations: a read costs no
// round trip to NATS.
//
// It sees the writes made through its Store at once: a read first waits
// until the mirrors have applied the Store's latest write. Writes of other
// processes show a moment later, when the watch brings them, as with the
// entity caches of OpenWhisk's controllers; an entity the mirrors do not
// have is read from the store, so that a new one is never missed.
type Cache struct {
	store *Store
	acts  *hub.Follower[Name, Action]  // nil: the watches did not start
	pkgs  *hub.Follower[Name, Package] // nil: the watches did not start
}

// cacheWait bounds how long a read waits for the mirrors to apply the
// Store's latest write; after that it reads the store.
const cacheWait = time.Second

// NewCache mirrors s's actions and packages until ctx ends, restarting a
// watch that ends before (see hub.Follower), which log reports. When the
// watches cannot start, the cache reads the store.
func NewCache(ctx context.Context, s *Store, log *slog.Logger) *Cache {
	c := &Cache{store: s}
	wctx, cancel := context.WithCancel(ctx)
	acts, err1 := hub.Follow(wctx, nil, (*Action).FullName, s.WatchActions, log)
	pkgs, err2 := hub.Follow(wctx, nil, (*Package).FullName, s.WatchPackages, log)
	if err1 != nil || err2 != nil {
		cancel() // the watch that started, if any
		return c
	}
	context.AfterFunc(ctx, cancel)
	c.acts, c.pkgs = acts, pkgs
	return c
}

// Followers returns the followers that keep the cache's mirrors, nil when
// its watches did not start. The rule engine reads through them too
// (engine.Engine.ShareMirrors), so that a process keeps one copy of its
// actions and packages and watches each bucket once.
func (c *Cache) Followers() (*hub.Follower[Name, Action], *hub.Follower[Name, Package]) {
	return c.acts, c.pkgs
}

// GetAction is Store.GetAction, from the mirror when it can be.
func (c *Cache) GetAction(ctx context.Context, n Name, withCode bool) (*Action, uint64, error) {
	if !withCode && c.acts != nil {
		if a, rev, ok := cached(c.acts.Mirror(), &c.store.wroteActions, n); ok {
			return a, rev, nil
		}
	}
	return c.store.GetAction(ctx, n, withCode)
}

// GetPackage is Store.GetPackage, from the mirror when it can be.
func (c *Cache) GetPackage(ctx context.Context, n Name) (*Package, uint64, error) {
	if c.pkgs != nil {
		if p, rev, ok := cached(c.pkgs.Mirror(), &c.store.wrotePackages, Name{Namespace: n.Namespace, Name: n.Name}); ok {
			return p, rev, nil
		}
	}
	return c.store.GetPackage(ctx, n)
}

// expired is a timeout that has passed: CaughtUp with it does not wait.
var expired = func() chan time.Time { c := make(chan time.Time); close(c); return c }()

// cached returns entity n from m once m has applied the revision in wrote,
// waiting up to cacheWait for it; ok false when m did not catch up or does
// not have n.
func cached[T any](m *hub.Mirror[Name, T], wrote *atomic.Uint64, n Name) (v *T, rev uint64, ok bool) {
	want := wrote.Load()
	if !m.CaughtUp(want, expired) {
		t := time.NewTimer(cacheWait)
		defer t.Stop()
		if !m.CaughtUp(want, t.C) {
			return nil, 0, false
		}
	}
	return m.Get(n)
}
