package engine

import "context"

// Observer watches the events the engine processes, for metrics and traces
// (Gust's is internal/telemetry). Its methods run on the engine's workers,
// so they must be quick and must not block.
type Observer interface {
	// Event is called as the engine starts on an event of trigger
	// ns/trigger that carries traceparent (a W3C traceparent, or ""). It
	// returns the traceparent the event's invocations are to carry (a span
	// of its own, or traceparent as it is) and done, which the engine
	// calls once it is done with the event: with the outcome of each rule
	// (rules.OutcomeActivated, ...), or with err when the event will be
	// redelivered. done may be nil.
	Event(ctx context.Context, ns, trigger, traceparent string) (pass string, done func(outcomes []string, err error))
	// Delivery is called for a rule of trigger ns/trigger with a delivery
	// policy: rules.OutcomeRetried for each retry, rules.OutcomeDeadLettered for a dead
	// letter published.
	Delivery(ns, trigger, outcome string)
}

// SetObserver makes the engine tell o of every event it processes. Call it
// before Run.
func (e *Engine) SetObserver(o Observer) *Engine {
	e.observer = o
	return e
}

// observeDelivery tells the observer, if any, of a delivery's step.
func (e *Engine) observeDelivery(d *delivery, outcome string) {
	if e.observer != nil {
		e.observer.Delivery(d.inv.Namespace, d.trigger, outcome)
	}
}

// outcomesOf are the outcomes of results, for Observer.
func outcomesOf(results []ruleResult) []string {
	out := make([]string, len(results))
	for i, r := range results {
		out[i] = r.outcome
	}
	return out
}
