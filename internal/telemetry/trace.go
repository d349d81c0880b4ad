package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/rules"
)

// TracerOptions configure a Tracer.
type TracerOptions struct {
	// Endpoint is the OTLP/HTTP collector's URL, "http://127.0.0.1:4318"
	// (spans go to its /v1/traces) or a URL with the traces path of its own.
	Endpoint string
	// Version is this build's, for the service.version resource attribute.
	Version string
	// BatchTimeout is how long spans wait to be sent together; 0 means 2 s.
	BatchTimeout time.Duration
}

// Tracer records spans of Gust's work, each a child of the W3C trace
// context that came with the request or event, and exports them over
// OTLP/HTTP: a span per trigger event processed by the rule engine
// ("trigger ns/name") and one per activation ("activation ns/action"), the
// context of which the action gets (__OW_TRACEPARENT, __OW_TRACE_ID).
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// NewTracer returns a tracer exporting to o.Endpoint. It starts no
// connection: spans are sent in batches as they end. Close flushes them.
func NewTracer(o TracerOptions) (*Tracer, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--otlp-endpoint %q: give the http(s) URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318", o.Endpoint)
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = "/v1/traces"
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(u.String()))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = 2 * time.Second
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("gust"), semconv.ServiceVersion(o.Version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(o.BatchTimeout)), sdktrace.WithResource(res))
	return &Tracer{tp: tp, tracer: tp.Tracer("github.com/gusthub/gust")}, nil
}

// Close sends the spans not yet sent and stops the exporter, waiting at
// most until ctx ends.
func (t *Tracer) Close(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// traceContext is W3C trace context propagation, kept here rather than
// installed globally.
var traceContext propagation.TraceContext

// parent is ctx with the remote span of traceparent, if it is valid.
func parent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// traceParentOf is the traceparent of ctx's span.
func traceParentOf(ctx context.Context) string {
	c := propagation.MapCarrier{}
	traceContext.Inject(ctx, c)
	return c["traceparent"]
}

// startEvent starts the span of one trigger event in the rule engine.
func (t *Tracer) startEvent(ctx context.Context, ns, trigger, traceparent string) (string, func([]string, error)) {
	ctx, span := t.tracer.Start(parent(ctx, traceparent), "trigger "+ns+"/"+trigger, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("gust.namespace", ns), attribute.String("gust.trigger", trigger)))
	return traceParentOf(ctx), func(outcomes []string, err error) {
		activated := 0
		for _, o := range outcomes {
			if o == rules.OutcomeActivated {
				activated++
			}
		}
		span.SetAttributes(attribute.Int("gust.rules", len(outcomes)), attribute.Int("gust.rules.activated", activated))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "the event will be redelivered")
		}
		span.End()
	}
}

// startActivation starts the span of one activation in the invoker.
func (t *Tracer) startActivation(ctx context.Context, inv *actions.Invocation) (string, func(*actions.Activation)) {
	a := &inv.Action
	ctx, span := t.tracer.Start(parent(ctx, inv.TraceParent), "activation "+a.FullName().String(), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("gust.namespace", inv.Namespace), attribute.String("gust.action", a.FullName().String()),
			attribute.String("gust.activation_id", inv.ActivationID), attribute.String("gust.kind", a.Exec.Kind)))
	return traceParentOf(ctx), func(rec *actions.Activation) {
		span.SetAttributes(attribute.String("gust.status", actions.StatusName(rec.Response.StatusCode)))
		if v := rec.Annotations.Get("initTime"); v != nil {
			span.SetAttributes(attribute.Bool("gust.cold", true), attribute.String("gust.init_ms", string(v)))
		}
		if rec.Response.StatusCode != actions.StatusSuccess {
			span.SetStatus(codes.Error, actions.StatusName(rec.Response.StatusCode))
		}
		span.End()
	}
}
