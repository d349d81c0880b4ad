package hub

import (
	"sync"
	"time"
)

// Mirror is an in-memory copy of one bucket's entities, by name (K), that a
// watch keeps up to date (Follow). A watch delivers a change a moment
// after the store has it: readers wait until the mirror has applied the
// revision they need (CaughtUp) before they trust it.
type Mirror[K comparable, T any] struct {
	name func(*T) K

	mu      sync.RWMutex
	ready   bool   // the initial values are in, and the watch goes on
	applied uint64 // the latest revision applied
	moved   chan struct{}
	keys    map[string]K // store key → name, for deletions
	vals    map[K]mirrored[T]
}

type mirrored[T any] struct {
	v   T
	rev uint64
}

// NewMirror returns an empty mirror of entities named by name.
func NewMirror[K comparable, T any](name func(*T) K) *Mirror[K, T] {
	return &Mirror[K, T]{name: name, moved: make(chan struct{}), keys: map[string]K{}, vals: map[K]mirrored[T]{}}
}

// Follow applies changes until the channel closes; the mirror is then
// stopped, and CaughtUp false for good.
func (m *Mirror[K, T]) Follow(changes <-chan Change[T]) {
	for ch := range changes {
		m.apply(ch)
	}
	m.mu.Lock()
	m.ready = false
	close(m.moved)
	m.moved = nil // stopped
	m.mu.Unlock()
}

func (m *Mirror[K, T]) apply(ch Change[T]) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case ch.Ready:
		m.ready = true
	default:
		if old, ok := m.keys[ch.Key]; ok {
			delete(m.vals, old)
			delete(m.keys, ch.Key)
		}
		if !ch.Deleted {
			n := m.name(&ch.Value)
			m.keys[ch.Key] = n
			m.vals[n] = mirrored[T]{v: ch.Value, rev: ch.Revision}
		}
		m.applied = max(m.applied, ch.Revision)
	}
	close(m.moved) // wake the readers waiting for a revision
	m.moved = make(chan struct{})
}

// CaughtUp waits until the mirror is ready and has applied rev; false when
// it stops following its bucket or the time runs out first.
func (m *Mirror[K, T]) CaughtUp(rev uint64, timeout <-chan time.Time) bool {
	for {
		m.mu.RLock()
		ok, moved, stopped := m.ready && m.applied >= rev, m.moved, m.moved == nil
		m.mu.RUnlock()
		if ok {
			return true
		}
		if stopped {
			return false
		}
		select {
		case <-moved:
		case <-timeout:
			return false
		}
	}
}

// Get returns a copy of the entity named n and its revision, or ok false.
func (m *Mirror[K, T]) Get(n K) (v *T, rev uint64, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.vals[n]
	if !ok {
		return nil, 0, false
	}
	c := e.v // entities are values: readers never change their slices or maps
	return &c, e.rev, true
}
