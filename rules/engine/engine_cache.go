package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

// The engine reads a trigger for every event and an action (and maybe its
// package) for every rule that fires. When its stores can stream their
// changes, it keeps those entities in memory instead, each bucket mirrored
// by a key-value watch, so that what an event costs does not grow with the
// rules it fires or the entities stored.
//
// A watch delivers a change a moment after the store has it, so a mirror
// alone could process an event fired right after a rule was disabled with
// the rule still active. Before an event is processed, the engine
// therefore asks the buckets for their latest revisions and waits until
// its mirrors have applied them: every change made before the event was
// read is seen, from any process. Events processed at the same time share
// those questions (see revisionBarrier), so under load they cost a few
// requests for many events.

// triggerWatcher is a TriggerReader that can stream its triggers.
type triggerWatcher interface {
	WatchTriggers(ctx context.Context) (<-chan hub.Change[rules.Trigger], error)
	TriggersRevision(ctx context.Context) (uint64, error)
}

// actionWatcher is an actions.Getter that can stream its actions (without
// code) and packages.
type actionWatcher interface {
	WatchActions(ctx context.Context) (<-chan hub.Change[actions.Action], error)
	ActionsRevision(ctx context.Context) (uint64, error)
	WatchPackages(ctx context.Context) (<-chan hub.Change[actions.Package], error)
	PackagesRevision(ctx context.Context) (uint64, error)
}

// mirrorWait bounds how long an event waits for the mirrors to catch up
// with the buckets before it is processed with store reads instead.
const mirrorWait = 2 * time.Second

// mirroredTriggers reads triggers from a caught-up mirror. A trigger it
// does not have does not exist.
type mirroredTriggers struct {
	m *hub.Mirror[actions.Name, rules.Trigger]
}

func (c mirroredTriggers) GetTrigger(_ context.Context, n actions.Name) (*rules.Trigger, uint64, error) {
	if t, rev, ok := c.m.Get(n); ok {
		return t, rev, nil
	}
	return nil, 0, hub.ErrNotFound
}

// mirroredActions reads actions (without code) and packages from
// caught-up mirrors, and actions with code from the store.
type mirroredActions struct {
	store actions.Getter
	acts  *hub.Mirror[actions.Name, actions.Action]
	pkgs  *hub.Mirror[actions.Name, actions.Package]
}

func (c mirroredActions) GetAction(ctx context.Context, n actions.Name, withCode bool) (*actions.Action, uint64, error) {
	if withCode {
		return c.store.GetAction(ctx, n, withCode)
	}
	if a, rev, ok := c.acts.Get(n); ok {
		return a, rev, nil
	}
	return nil, 0, hub.ErrNotFound
}

func (c mirroredActions) GetPackage(_ context.Context, n actions.Name) (*actions.Package, uint64, error) {
	if p, rev, ok := c.pkgs.Get(actions.Name{Namespace: n.Namespace, Name: n.Name}); ok {
		return p, rev, nil
	}
	return nil, 0, hub.ErrNotFound
}

// lookups is what one event reads its trigger and actions through.
type lookups struct {
	triggers TriggerReader
	actions  actions.Getter
}

// mirrors are the engine's in-memory copies of its stores' buckets, and
// the barrier that syncs events with them.
type mirrors struct {
	triggers *hub.Follower[actions.Name, rules.Trigger]
	actions  *hub.Follower[actions.Name, actions.Action]
	packages *hub.Follower[actions.Name, actions.Package]
	barrier  revisionBarrier
}

// watchStores starts mirroring the engine's stores if they can stream
// their entities; a watch that ends is started again (hub.Follower).
// The watches run until ctx ends; wait returns once they have stopped.
// Without mirrors (a store that cannot stream, a watch that cannot start)
// events read the stores.
func (e *Engine) watchStores(ctx context.Context) (wait func()) {
	tw, ok1 := e.triggers.(triggerWatcher)
	aw, ok2 := e.actions.(actionWatcher)
	if !ok1 || !ok2 {
		return func() {}
	}
	var wg sync.WaitGroup
	ms := &mirrors{}
	var err error
	ms.triggers, err = hub.Follow(ctx, &wg, (*rules.Trigger).FullName, tw.WatchTriggers, e.log)
	if err == nil {
		ms.actions, ms.packages, err = e.followActions(ctx, &wg, aw)
	}
	if err != nil {
		e.log.Warn("triggers and actions are read from the store for every event", "err", err)
		return wg.Wait // the watches that started end with ctx
	}
	ms.barrier.query = func(ctx context.Context) ([3]uint64, error) { // the three at once
		var revs [3]uint64
		var errs [3]error
		var wg sync.WaitGroup
		for i, f := range []func(context.Context) (uint64, error){tw.TriggersRevision, aw.ActionsRevision, aw.PackagesRevision} {
			wg.Go(func() { revs[i], errs[i] = f(ctx) })
		}
		wg.Wait()
		return revs, errors.Join(errs[:]...)
	}
	e.mirrors = ms
	return wg.Wait
}

// followActions returns the followers of the actions and packages: those
// of the shared cache (ShareMirrors), else new ones of aw's buckets.
func (e *Engine) followActions(ctx context.Context, wg *sync.WaitGroup, aw actionWatcher) (*hub.Follower[actions.Name, actions.Action], *hub.Follower[actions.Name, actions.Package], error) {
	if e.shared != nil {
		if acts, pkgs := e.shared.Followers(); acts != nil {
			return acts, pkgs, nil
		}
	}
	acts, err := hub.Follow(ctx, wg, (*actions.Action).FullName, aw.WatchActions, e.log)
	if err != nil {
		return nil, nil, err
	}
	pkgs, err := hub.Follow(ctx, wg, (*actions.Package).FullName, aw.WatchPackages, e.log)
	return acts, pkgs, err
}

// lookups returns what an event read now reads its entities through: the
// mirrors, once they have every change made until now, else the stores.
func (e *Engine) lookups(ctx context.Context) lookups {
	ms := e.mirrors
	stores := lookups{triggers: e.triggers, actions: e.actions}
	if ms == nil {
		return stores
	}
	revs, err := ms.barrier.latest(ctx)
	if err != nil {
		e.log.Warn("bucket revisions unknown; the event reads the stores", "err", err)
		return stores
	}
	trig, acts, pkgs := ms.triggers.Mirror(), ms.actions.Mirror(), ms.packages.Mirror()
	timeout := time.NewTimer(mirrorWait)
	defer timeout.Stop()
	if !trig.CaughtUp(revs[0], timeout.C) || !acts.CaughtUp(revs[1], timeout.C) || !pkgs.CaughtUp(revs[2], timeout.C) {
		return stores
	}
	return lookups{triggers: mirroredTriggers{trig}, actions: mirroredActions{store: e.actions, acts: acts, pkgs: pkgs}}
}

// revisionBarrier asks the buckets for their latest revisions on behalf of
// many events at once: a caller gets the answer to a question asked after
// it called, so the answer covers every change made before, and the
// callers that arrive while a question is out share the next one.
type revisionBarrier struct {
	query func(ctx context.Context) ([3]uint64, error)
	mu    sync.Mutex
	cur   *revisionRound // the question out, if any
}

type revisionRound struct {
	done chan struct{}
	revs [3]uint64
	err  error
}

func (b *revisionBarrier) latest(ctx context.Context) ([3]uint64, error) {
	b.mu.Lock()
	if r := b.cur; r != nil { // asked before this call: too early
		b.mu.Unlock()
		<-r.done
		b.mu.Lock()
	}
	if r := b.cur; r != nil { // asked since this call
		b.mu.Unlock()
		<-r.done
		return r.revs, r.err
	}
	r := &revisionRound{done: make(chan struct{})}
	b.cur = r
	b.mu.Unlock()
	r.revs, r.err = b.query(ctx)
	b.mu.Lock()
	b.cur = nil
	b.mu.Unlock()
	close(r.done)
	return r.revs, r.err
}
