package telemetry

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
)

// PoolStats is a snapshot of an invoker's container pool (what
// invoker.Pool.Stats counts, as the caller copies it over).
type PoolStats struct {
	// UsedMB is the memory the pool's containers reserve, CapacityMB what
	// they may reserve together.
	UsedMB, CapacityMB int
	// Warm counts the pool's warm containers, of which Busy run an
	// activation and Paused are paused; Starting counts the containers
	// being created for waiting activations, Stem the stem cells.
	Warm, Busy, Paused, Starting, Stem int
	// Waiting counts the activations waiting for a container.
	Waiting int
}

// WatchPool reports the invoker pool's containers and memory at each
// scrape, from stats.
func (m *Metrics) WatchPool(stats func() PoolStats) {
	m.reg.MustRegister(&poolCollector{stats: stats})
}

var (
	poolContainersDesc = prometheus.NewDesc("gust_pool_containers",
		"Containers of the invoker pool by state: idle, busy (running an activation), paused, or starting (being created for waiting activations).", []string{"state"}, nil)
	poolStemDesc = prometheus.NewDesc("gust_pool_stem_cells",
		"Pre-warmed containers (stem cells) waiting for an action of their kind.", nil, nil)
	poolMemoryDesc = prometheus.NewDesc("gust_pool_memory_used_bytes",
		"Memory reserved by the pool's containers.", nil, nil)
	poolCapacityDesc = prometheus.NewDesc("gust_pool_memory_capacity_bytes",
		"Memory all the pool's containers may use together (--invoker-memory).", nil, nil)
	poolWaitingDesc = prometheus.NewDesc("gust_pool_waiting_activations",
		"Activations waiting for a container.", nil, nil)
)

type poolCollector struct{ stats func() PoolStats }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolContainersDesc
	ch <- poolStemDesc
	ch <- poolMemoryDesc
	ch <- poolCapacityDesc
	ch <- poolWaitingDesc
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	idle := s.Warm - s.Busy - s.Paused
	ch <- prometheus.MustNewConstMetric(poolContainersDesc, prometheus.GaugeValue, float64(max(idle, 0)), "idle")
	ch <- prometheus.MustNewConstMetric(poolContainersDesc, prometheus.GaugeValue, float64(s.Busy), "busy")
	ch <- prometheus.MustNewConstMetric(poolContainersDesc, prometheus.GaugeValue, float64(s.Paused), "paused")
	ch <- prometheus.MustNewConstMetric(poolContainersDesc, prometheus.GaugeValue, float64(s.Starting), "starting")
	ch <- prometheus.MustNewConstMetric(poolStemDesc, prometheus.GaugeValue, float64(s.Stem))
	ch <- prometheus.MustNewConstMetric(poolMemoryDesc, prometheus.GaugeValue, float64(s.UsedMB)*(1<<20))
	ch <- prometheus.MustNewConstMetric(poolCapacityDesc, prometheus.GaugeValue, float64(s.CapacityMB)*(1<<20))
	ch <- prometheus.MustNewConstMetric(poolWaitingDesc, prometheus.GaugeValue, float64(s.Waiting))
}

// WatchJetStream reports JetStream's storage, every stream's messages and
// bytes (the work queue's depth among them) and every durable consumer's
// lag at each scrape.
func (m *Metrics) WatchJetStream(js jetstream.JetStream) {
	m.reg.MustRegister(&jetStreamCollector{js: js, m: m})
}

var (
	jsStorageDesc = prometheus.NewDesc("gust_jetstream_storage_bytes",
		"JetStream storage used by Gust's account, by storage (file or memory).", []string{"storage"}, nil)
	jsStreamMsgsDesc = prometheus.NewDesc("gust_jetstream_stream_messages",
		"Messages in a stream: for "+hub.InvocationsStream+", the invocations queued or running (a blocking call run at once on a warm container of the same process is not among them).", []string{"stream"}, nil)
	jsStreamBytesDesc = prometheus.NewDesc("gust_jetstream_stream_bytes",
		"Bytes in a stream.", []string{"stream"}, nil)
	jsPendingDesc = prometheus.NewDesc("gust_jetstream_consumer_pending_messages",
		"Messages of a durable consumer's stream it has not yet been given: its lag ("+hub.RulesConsumer+" on "+hub.EventsStream+", the invokers on "+hub.InvocationsStream+").",
		[]string{"stream", "consumer"}, nil)
	jsAckPendingDesc = prometheus.NewDesc("gust_jetstream_consumer_ack_pending_messages",
		"Messages a durable consumer was given and has not acknowledged yet: in progress.", []string{"stream", "consumer"}, nil)
)

type jetStreamCollector struct {
	js jetstream.JetStream
	m  *Metrics
}

func (c *jetStreamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jsStorageDesc
	ch <- jsStreamMsgsDesc
	ch <- jsStreamBytesDesc
	ch <- jsPendingDesc
	ch <- jsAckPendingDesc
}

func (c *jetStreamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ai, err := c.js.AccountInfo(ctx)
	if err != nil {
		c.m.log.Warn("metrics: read JetStream account", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(jsStorageDesc, prometheus.GaugeValue, float64(ai.Store), "file")
	ch <- prometheus.MustNewConstMetric(jsStorageDesc, prometheus.GaugeValue, float64(ai.Memory), "memory")
	streams := c.js.ListStreams(ctx)
	var names []string
	for si := range streams.Info() {
		ch <- prometheus.MustNewConstMetric(jsStreamMsgsDesc, prometheus.GaugeValue, float64(si.State.Msgs), si.Config.Name)
		ch <- prometheus.MustNewConstMetric(jsStreamBytesDesc, prometheus.GaugeValue, float64(si.State.Bytes), si.Config.Name)
		if si.State.Consumers > 0 {
			names = append(names, si.Config.Name)
		}
	}
	if err := streams.Err(); err != nil {
		c.m.log.Warn("metrics: list streams", "err", err)
	}
	for _, name := range names {
		st, err := c.js.Stream(ctx, name)
		if err != nil {
			continue // deleted meanwhile
		}
		cons := st.ListConsumers(ctx)
		for ci := range cons.Info() {
			if ci.Config.Durable == "" {
				continue // watchers and other ephemeral readers: unbounded names
			}
			ch <- prometheus.MustNewConstMetric(jsPendingDesc, prometheus.GaugeValue, float64(ci.NumPending), name, ci.Name)
			ch <- prometheus.MustNewConstMetric(jsAckPendingDesc, prometheus.GaugeValue, float64(ci.NumAckPending), name, ci.Name)
		}
		if err := cons.Err(); err != nil {
			c.m.log.Warn("metrics: list consumers", "stream", name, "err", err)
		}
	}
}

// FeedStates counts feed instances by state (feeds.Manager).
type FeedStates interface {
	States(ctx context.Context) ([]feeds.StateCount, error)
}

// WatchFeeds reports the feed instances by feed and state at each scrape.
func (m *Metrics) WatchFeeds(f FeedStates) {
	m.reg.MustRegister(&feedCollector{f: f, m: m})
}

var feedInstancesDesc = prometheus.NewDesc("gust_feed_instances",
	"Feed instances by feed (provider path) and state: running, failed, paused, done or idle.", []string{"feed", "state"}, nil)

type feedCollector struct {
	f FeedStates
	m *Metrics
}

func (c *feedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- feedInstancesDesc }

func (c *feedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	counts, err := c.f.States(ctx)
	if err != nil {
		c.m.log.Warn("metrics: read feed states", "err", err)
		return
	}
	for _, s := range counts {
		ch <- prometheus.MustNewConstMetric(feedInstancesDesc, prometheus.GaugeValue, float64(s.Count), s.Feed, s.State)
	}
}

// FailureCounter counts what a store could not keep
// (actions.ActivationStore.Failures).
type FailureCounter interface{ Failures() uint64 }

// WatchActivationStore reports the activation records s could not store.
func (m *Metrics) WatchActivationStore(s FailureCounter) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "gust_activation_store_failures_total",
		Help: "Activation records that could not be stored, after retries.",
	}, func() float64 { return float64(s.Failures()) }))
}
