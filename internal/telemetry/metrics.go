package telemetry

import (
	"context"
	"log/slog"
	"net/http"

	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// Default label limits (MetricsOptions).
const (
	DefaultMaxNamespaces = 200
	DefaultMaxTriggers   = 1000
)

// APIFeed is the feed label of events fired through the API.
const APIFeed = "api"

// MetricsOptions configure a Metrics.
type MetricsOptions struct {
	// MaxNamespaces and MaxTriggers bound the distinct namespace and
	// trigger label values; later ones are counted as OtherLabel. 0 means
	// DefaultMaxNamespaces and DefaultMaxTriggers.
	MaxNamespaces, MaxTriggers int
	Logger                     *slog.Logger
}

// Metrics holds Gust's Prometheus metrics in a registry of its own.
type Metrics struct {
	reg        *prometheus.Registry
	log        *slog.Logger
	namespaces *labelSet
	triggers   *labelSet

	eventsIn     *prometheus.CounterVec
	ruleOutcomes *prometheus.CounterVec
	activations  *prometheus.CounterVec
	wait         *prometheus.HistogramVec
	init         *prometheus.HistogramVec
	run          *prometheus.HistogramVec
}

// activationBuckets span a warm run on a loopback container (a fraction of
// a millisecond) up to the five-minute default time limit.
var activationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// NewMetrics returns metrics with Go's runtime and the process's own in
// their registry.
func NewMetrics(o MetricsOptions) *Metrics {
	if o.MaxNamespaces <= 0 {
		o.MaxNamespaces = DefaultMaxNamespaces
	}
	if o.MaxTriggers <= 0 {
		o.MaxTriggers = DefaultMaxTriggers
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(), log: o.Logger,
		namespaces: newLabelSet(o.MaxNamespaces), triggers: newLabelSet(o.MaxTriggers),
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gust_events_received_total",
			Help: "Events stored on a trigger, by the feed that brought them (api for fires) and the trigger (namespace/name).",
		}, []string{"feed", "trigger"}),
		ruleOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gust_rule_outcomes_total",
			Help: "What became of the rules of trigger events: activated, inactive, filtered, failed; and of deliveries: retried, dead_lettered.",
		}, []string{"trigger", "outcome"}),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gust_activations_total",
			Help: "Activations run by this invoker, by namespace, action kind, status (success, application_error, developer_error, internal_error) and start (cold, warm, or none: it got no container).",
		}, []string{"namespace", "kind", "status", "start"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gust_activation_wait_seconds", Help: "Time from an invocation's submission to its start (waitTime), by action kind.",
			Buckets: activationBuckets,
		}, []string{"kind"}),
		init: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gust_activation_init_seconds", Help: "Time of a cold start's /init (initTime), by action kind.",
			Buckets: activationBuckets,
		}, []string{"kind"}),
		run: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gust_activation_run_seconds", Help: "Time an activation ran, after /init, by action kind.",
			Buckets: activationBuckets,
		}, []string{"kind"}),
	}
	m.reg.MustRegister(m.eventsIn, m.ruleOutcomes, m.activations, m.wait, m.init, m.run,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the metrics' registry, for collectors of an embedder's own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' text (or OpenMetrics) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.reg,
		EnableOpenMetrics: true,
	})
}

// triggerLabel is the bounded label value of trigger ns/name.
func (m *Metrics) triggerLabel(ns, name string) string { return m.triggers.value(ns + "/" + name) }

// EventReceived counts an event stored on trigger ns/trigger, brought by
// feed (a provider's path, or APIFeed).
func (m *Metrics) EventReceived(feed, ns, trigger string) {
	m.eventsIn.WithLabelValues(feed, m.triggerLabel(ns, trigger)).Inc()
}

// RuleOutcome counts what became of a rule of trigger ns/trigger.
func (m *Metrics) RuleOutcome(ns, trigger, outcome string) {
	m.ruleOutcomes.WithLabelValues(m.triggerLabel(ns, trigger), outcome).Inc()
}

// Timing is how long the phases of one activation took (what
// invoker.Timing says, as the caller copies it over).
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

// Activation counts a finished activation and its phases.
func (m *Metrics) Activation(inv *actions.Invocation, rec *actions.Activation, t Timing) {
	kind := inv.Action.Exec.Kind
	start := "warm"
	switch {
	case t.Cold:
		start = "cold"
		m.init.WithLabelValues(kind).Observe(t.Init.Seconds())
	case t.NoContainer:
		start = "none"
	}
	m.activations.WithLabelValues(m.namespaces.value(inv.Namespace), kind, statusLabel(rec.Response.StatusCode), start).Inc()
	m.wait.WithLabelValues(kind).Observe(t.Wait.Seconds())
	m.run.WithLabelValues(kind).Observe(t.Run.Seconds())
}

// statusLabel is a status code's name as a label value.
func statusLabel(code int) string {
	switch code {
	case actions.StatusSuccess:
		return "success"
	case actions.StatusApplicationError:
		return "application_error"
	case actions.StatusDeveloperError:
		return "developer_error"
	}
	return "internal_error"
}

// Publisher puts events on triggers (hub.Publisher): Publish for feeds,
// Fire for the API's fires.
type Publisher interface {
	Publish(ctx context.Context, ns, trigger string, e event.Event, extra map[string]string) error
	Fire(ctx context.Context, ns, trigger string, e event.Event, extra map[string]string) (activationID string, err error)
}

// CountEvents returns p counting each event it stores in
// gust_events_received_total, by the feed that its hub.HeaderFeed names
// (APIFeed without one).
func (m *Metrics) CountEvents(p Publisher) Publisher { return &countingPublisher{p: p, m: m} }

type countingPublisher struct {
	p Publisher
	m *Metrics
}

func (c *countingPublisher) Publish(ctx context.Context, ns, trigger string, e event.Event, extra map[string]string) error {
	if err := c.p.Publish(ctx, ns, trigger, e, extra); err != nil {
		return err
	}
	feed := extra[hub.HeaderFeed]
	if feed == "" {
		feed = APIFeed
	}
	c.m.EventReceived(feed, ns, trigger)
	return nil
}

func (c *countingPublisher) Fire(ctx context.Context, ns, trigger string, e event.Event, extra map[string]string) (string, error) {
	id, err := c.p.Fire(ctx, ns, trigger, e, extra)
	if err != nil {
		return "", err
	}
	c.m.EventReceived(APIFeed, ns, trigger)
	return id, nil
}

// scrapeTimeout bounds what one scrape waits for JetStream and the feeds'
// buckets.
const scrapeTimeout = 5 * time.Second
