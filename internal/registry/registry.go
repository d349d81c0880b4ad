package registry

import (
	"regexp"
	"sort"
	"sync"
)

var nameRule = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// ValidName reports whether s may be a path's package or name: a
// lowercase letter, then lowercase letters, digits, _ and -.
func ValidName(s string) bool { return nameRule.MatchString(s) }

// Registry maps paths to values of T. The zero value is not usable: use
// New.
type Registry[T any] struct {
	mu sync.RWMutex
	by map[string]T
}

// New returns an empty registry.
func New[T any]() *Registry[T] { return &Registry[T]{by: map[string]T{}} }

// Add registers v under path. It reports false, and changes nothing, when
// path is taken.
func (r *Registry[T]) Add(path string, v T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.by[path]; taken {
		return false
	}
	r.by[path] = v
	return true
}

// Lookup returns what is registered under path.
func (r *Registry[T]) Lookup(path string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.by[path]
	return v, ok
}

// All returns everything registered, sorted by path.
func (r *Registry[T]) All() []T {
	r.mu.RLock()
	defer r.mu.RUnlock()
	paths := make([]string, 0, len(r.by))
	for p := range r.by {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := make([]T, len(paths))
	for i, p := range paths {
		out[i] = r.by[p]
	}
	return out
}
