package invoker

import (
	"context"
	"time"

	"github.com/gusthub/gust/actions"
)

// Observer watches the activations an invoker runs, for metrics and traces
// (Gust's is internal/telemetry). Its methods run on the activation's own
// goroutine, so they must be quick and must not block.
type Observer interface {
	// Taken is called as the invoker starts inv. It returns the W3C
	// traceparent the action is to get in place of inv.TraceParent (a span
	// of its own, or inv.TraceParent as it is) and done, called once the
	// activation's record is complete; done may be nil.
	Taken(ctx context.Context, inv *actions.Invocation) (traceparent string, done func(rec *actions.Activation))
	// Finished is called once per activation with its record and how long
	// its phases took.
	Finished(inv *actions.Invocation, rec *actions.Activation, t Timing)
}

// Timing is how long the phases of one activation took.
type Timing struct {
	// Wait is from the invocation's submission to its start (waitTime).
	Wait time.Duration
	// Init is the /init of a cold start (initTime), 0 when warm.
	Init time.Duration
	// Run is from the end of /init (or the start, when warm) to the end.
	Run time.Duration
	// Cold is whether the activation started a container of its own.
	Cold bool
	// NoContainer is whether it ended before it got a container.
	NoContainer bool
}

// observeFinish tells the observer, if any, of a finished activation.
func (iv *Invoker) observeFinish(inv *actions.Invocation, rec *actions.Activation, start, end time.Time, initTime time.Duration, how startKind) {
	if iv.opts.Observer == nil {
		return
	}
	wait := start.Sub(time.UnixMilli(inv.Submitted))
	iv.opts.Observer.Finished(inv, rec, Timing{Wait: max(wait, 0), Init: initTime, Run: max(end.Sub(start)-initTime, 0),
		Cold: how == startCold, NoContainer: how == startNoContainer})
}
