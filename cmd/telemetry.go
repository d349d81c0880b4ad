package gustcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/internal/telemetry"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/rules/engine"
)

// metricsOff is the --metrics-listen value that turns metrics off.
const metricsOff = "off"

// MetricsPath is where Prometheus scrapes Gust.
const MetricsPath = "/metrics"

// telemetryParts are the metrics and traces of a Gust being built; either
// may be nil (off).
type telemetryParts struct {
	metrics  *telemetry.Metrics
	observer *telemetry.Observer
}

// newTelemetry builds the metrics (unless --metrics-listen off) and the
// tracer (with --otlp-endpoint), whose spans lc flushes at shutdown.
func newTelemetry(o serveOptions, lc *lifecycle, log *slog.Logger) (*telemetryParts, error) {
	t := &telemetryParts{}
	if o.metricsListen != metricsOff {
		t.metrics = telemetry.NewMetrics(telemetry.MetricsOptions{Logger: log.With("component", "metrics")})
	}
	var tracer *telemetry.Tracer
	if o.otlpEndpoint != "" {
		var err error
		if tracer, err = telemetry.NewTracer(telemetry.TracerOptions{Endpoint: o.otlpEndpoint, Version: version}); err != nil {
			return nil, err
		}
		lc.closer("tracer", func() error { // after the engine and the invoker: their last spans go too
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return tracer.Close(ctx)
		})
	}
	t.observer = telemetry.NewObserver(t.metrics, tracer)
	return t, nil
}

// invokerObserver is the observer as the invoker takes it: a nil
// interface when there is none.
func (t *telemetryParts) invokerObserver() invoker.Observer {
	if t == nil || t.observer == nil {
		return nil
	}
	return invokerTelemetry{t.observer}
}

// invokerTelemetry is a telemetry.Observer as an invoker.Observer:
// package telemetry does not import the invoker, whose Timing it declares
// again.
type invokerTelemetry struct{ *telemetry.Observer }

var (
	_ invoker.Observer = invokerTelemetry{}
	_ engine.Observer  = (*telemetry.Observer)(nil)
)

// Finished hands the activation's phases on as telemetry's Timing.
func (o invokerTelemetry) Finished(inv *actions.Invocation, rec *actions.Activation, t invoker.Timing) {
	o.Observer.Finished(inv, rec, telemetry.Timing{Wait: t.Wait, Init: t.Init, Run: t.Run, Cold: t.Cold, NoContainer: t.NoContainer})
}

// watchPool has the metrics read the pool's stats at each scrape.
func (t *telemetryParts) watchPool(pool *invoker.Pool) {
	t.metrics.WatchPool(func() telemetry.PoolStats {
		s := pool.Stats()
		return telemetry.PoolStats{UsedMB: s.UsedMB, CapacityMB: s.CapacityMB,
			Warm: s.Warm, Busy: s.Busy, Paused: s.Paused, Starting: s.Starting, Stem: s.Stem, Waiting: s.Waiting}
	})
}

// observe makes the engine report to the observer, if any.
func (t *telemetryParts) observe(e *engine.Engine) *engine.Engine {
	if t.observer == nil {
		return e
	}
	return e.SetObserver(t.observer)
}

// withMetrics serves GET /metrics beside api on the API port, unless
// --metrics-listen moves it (or turns it off).
func (t *telemetryParts) withMetrics(o serveOptions, api http.Handler) http.Handler {
	if t.metrics == nil || o.metricsListen != "" {
		return api
	}
	m := t.metrics.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != MetricsPath {
			api.ServeHTTP(w, r)
			return
		}
		serveMetrics(m, w, r)
	})
}

func serveMetrics(m http.Handler, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Use GET to read the metrics.", http.StatusMethodNotAllowed)
		return
	}
	m.ServeHTTP(w, r)
}

// listenMetrics opens --metrics-listen, when it names an address of its
// own; run serves the metrics there until ctx ends.
func (t *telemetryParts) listenMetrics(o serveOptions) (run func(ctx context.Context) error, err error) {
	if t.metrics == nil || o.metricsListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", o.metricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %w", o.metricsListen, err)
	}
	m := t.metrics.Handler()
	mux := http.NewServeMux()
	mux.HandleFunc(MetricsPath, func(w http.ResponseWriter, r *http.Request) { serveMetrics(m, w, r) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return fmt.Errorf("metrics server: %w", err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, nil
}
