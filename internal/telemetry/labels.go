package telemetry

import "sync"

// OtherLabel stands for the namespaces and triggers beyond a Metrics'
// limits.
const OtherLabel = "_other"

// labelSet admits up to max distinct values of a label; the rest read as
// OtherLabel. Values once admitted stay: a counter's series must not
// change name half way.
type labelSet struct {
	max  int
	mu   sync.RWMutex
	seen map[string]struct{}
}

func newLabelSet(max int) *labelSet { return &labelSet{max: max, seen: map[string]struct{}{}} }

// value is v if it is admitted (or can be), else OtherLabel.
func (l *labelSet) value(v string) string {
	l.mu.RLock()
	_, ok := l.seen[v]
	l.mu.RUnlock()
	if ok {
		return v
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[v]; ok {
		return v
	}
	if len(l.seen) >= l.max {
		return OtherLabel
	}
	l.seen[v] = struct{}{}
	return v
}
