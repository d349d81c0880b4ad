package engine

import (
	"context"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/dispatch"
)

// What serve gives the engine.
var (
	_ Activator    = (*dispatch.Dispatcher)(nil)
	_ LocalRunner  = (*dispatch.Dispatcher)(nil)
	_ RecordStore  = (*actions.ActivationStore)(nil)
	_ recordReader = (*actions.ActivationStore)(nil)
)

// SetSleep replaces the wait between a delivery's attempts; call it before
// Run.
func (e *Engine) SetSleep(f func(ctx context.Context, d time.Duration) error) { e.sleep = f }

// RunningDeliveries is how many deliveries under a policy are in flight.
func (e *Engine) RunningDeliveries() int {
	e.deliveries.mu.Lock()
	defer e.deliveries.mu.Unlock()
	return len(e.deliveries.running)
}

// AttemptID is attemptID, for tests.
var AttemptID = attemptID

// SetNow replaces the clock by which throttled events wait for the next
// minute; call it before Run.
func (e *Engine) SetNow(now func() time.Time) { e.now = now }

// SetEventAckWait sets how long JetStream waits for an event's
// acknowledgement, for the engines Run after it, until t ends.
func SetEventAckWait(t interface{ Cleanup(func()) }, d time.Duration) {
	was := eventAckWait
	eventAckWait = d
	t.Cleanup(func() { eventAckWait = was })
}
