package feeds

import (
	"context"
	"strings"
)

// The states of a feed instance, as States counts them.
const (
	StateRunning = "running" // its owner runs it (or, for a receiver, takes its requests)
	StateFailed  = "failed"  // its last run failed; it runs again after a backoff
	StatePaused  = "paused"  // paused by PAUSE
	StateDone    = "done"    // it fired its last event
	StateIdle    = "idle"    // not running: not started yet, or no owner now
)

// StateCount is how many instances of one feed are in one state.
type StateCount struct {
	// Feed is the provider's path, "alarms/alarm".
	Feed  string
	State string
	Count int
}

// States counts the feed instances of every namespace, by feed and state,
// as their owners last wrote them. It reads two buckets whole: call it
// seldom (a metrics scrape), not per event.
func (m *Manager) States(ctx context.Context) ([]StateCount, error) {
	ins, err := m.st.instances.List(ctx, ">")
	if err != nil {
		return nil, err
	}
	runs, err := m.st.runs.List(ctx, ">")
	if err != nil {
		return nil, err
	}
	type key struct{ feed, state string }
	running := make(map[string]runState, len(runs))
	for _, r := range runs {
		if !strings.HasSuffix(r.Key, receivedSuffix) {
			running[r.Key] = r.Value
		}
	}
	counts := map[key]int{}
	var order []key
	for _, e := range ins {
		in, run := e.Value, running[e.Key]
		k := key{feed: in.Feed}
		switch {
		case in.Paused:
			k.state = StatePaused
		case in.Done:
			k.state = StateDone
		case run.Running:
			k.state = StateRunning
		case run.LastError != "":
			k.state = StateFailed
		default:
			k.state = StateIdle
		}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	out := make([]StateCount, 0, len(order))
	for _, k := range order {
		out = append(out, StateCount{Feed: k.feed, State: k.state, Count: counts[k]})
	}
	return out, nil
}
