// Package telemetry is what Gust tells the world of its work: Prometheus
// metrics (Metrics, served at GET /metrics) and OpenTelemetry traces
// (Tracer, exported over OTLP/HTTP), fed by small hooks that the rule
// engine (rules/engine's Observer), the invoker (invoker.Observer) and the
// event publishers call, and by collectors that read the pool, JetStream,
// the feed manager and the activation store only when Prometheus scrapes.
//
// It imports neither the invoker nor the rule engine: it declares what it
// reads of them (PoolStats, Timing, the Observer's methods) and the
// composition root (cmd) fits them together, so that a controller-only or
// an invoker-only build links only its own side.
//
// Nothing here is global: each Metrics has its own registry, each Tracer
// its own provider, so that tests and embedders can run several.
//
// Label values are bounded: no activation or event ids; namespaces and
// triggers, which users create, are labelled by name up to a limit
// (MaxNamespaces, MaxTriggers) and beyond it as "_other", so that a hub
// with very many triggers cannot blow up a Prometheus server.
package telemetry
