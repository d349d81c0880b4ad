package telemetry

import (
	"context"

	"github.com/gusthub/gust/actions"
)

// Observer feeds metrics and traces from the rule engine's and the
// invoker's hooks: it is an engine.Observer, and with its Finished given
// a Timing, an invoker.Observer. It imports neither, so that a controller
// need not link the container pool nor an invoker the rule engine; the
// composition root checks that it fits and converts the invoker's Timing.
type Observer struct {
	metrics *Metrics // nil: none
	tracer  *Tracer  // nil: none
}

// NewObserver returns an observer feeding m and t, either of which may be
// nil; nil when both are, so that the hooks cost nothing.
func NewObserver(m *Metrics, t *Tracer) *Observer {
	if m == nil && t == nil {
		return nil
	}
	return &Observer{metrics: m, tracer: t}
}

// Event starts the event's span (when tracing) and counts its rules'
// outcomes once it is done (engine.Observer).
func (o *Observer) Event(ctx context.Context, ns, trigger, traceparent string) (string, func([]string, error)) {
	var end func(outcomes []string, err error)
	if o.tracer != nil {
		traceparent, end = o.tracer.startEvent(ctx, ns, trigger, traceparent)
	}
	if o.metrics == nil {
		return traceparent, end
	}
	return traceparent, func(outcomes []string, err error) {
		if err == nil { // a redelivery counts them once it succeeds
			for _, oc := range outcomes {
				o.metrics.RuleOutcome(ns, trigger, oc)
			}
		}
		if end != nil {
			end(outcomes, err)
		}
	}
}

// Delivery counts a retry or a dead letter (engine.Observer).
func (o *Observer) Delivery(ns, trigger, outcome string) {
	if o.metrics != nil {
		o.metrics.RuleOutcome(ns, trigger, outcome)
	}
}

// Taken starts the activation's span when tracing (invoker.Observer).
func (o *Observer) Taken(ctx context.Context, inv *actions.Invocation) (string, func(*actions.Activation)) {
	if o.tracer == nil {
		return inv.TraceParent, nil
	}
	return o.tracer.startActivation(ctx, inv)
}

// Finished counts the activation and its phases (invoker.Observer's, with
// the invoker's Timing converted).
func (o *Observer) Finished(inv *actions.Invocation, rec *actions.Activation, t Timing) {
	if o.metrics != nil {
		o.metrics.Activation(inv, rec, t)
	}
}
