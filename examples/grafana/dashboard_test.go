package grafana_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/internal/telemetry"
)

type failures uint64

func (f failures) Failures() uint64 { return uint64(f) }

type feedStates []feeds.StateCount

func (s feedStates) States(context.Context) ([]feeds.StateCount, error) { return s, nil }

// TestDashboardQueriesServedFamilies: every metric a query of
// dashboard.json names is one Gust serves, and every stream or consumer
// it filters on is one the hub's streams (hub.EventsStream,
// hub.InvocationsStream, hub.RulesConsumer, ...) are served under, so that
// the dashboard cannot drift from the metrics, or a rename, unnoticed.
func TestDashboardQueriesServedFamilies(t *testing.T) {
	raw, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}

	h := hubtest.Start(t)
	st, err := hub.OpenEvents(context.Background(), h.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOrUpdateConsumer(context.Background(), jetstream.ConsumerConfig{Durable: hub.RulesConsumer}); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.OpenInvocations(context.Background(), h.JetStream()); err != nil {
		t.Fatal(err)
	}
	m := telemetry.NewMetrics(telemetry.MetricsOptions{})
	m.WatchJetStream(h.JetStream())
	m.WatchPool(func() telemetry.PoolStats { return telemetry.PoolStats{Warm: 1} })
	m.WatchFeeds(feedStates{{Feed: "alarms/alarm", State: feeds.StateRunning, Count: 1}})
	m.WatchActivationStore(failures(0))
	m.EventReceived(telemetry.APIFeed, "guest", "t")
	m.RuleOutcome("guest", "t", "activated")
	inv := &actions.Invocation{Namespace: "guest", Action: actions.Action{Exec: actions.Exec{Kind: "nodejs:20"}}}
	m.Activation(inv, &actions.Activation{}, telemetry.Timing{Cold: true})
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	labels := map[string]map[string]bool{"stream": {}, "consumer": {}} // the values served
	for _, f := range fams {
		served[f.GetName()] = true
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if values, ok := labels[l.GetName()]; ok {
					values[l.GetValue()] = true
				}
			}
		}
	}
	for _, name := range []string{hub.EventsStream, hub.InvocationsStream} {
		if !labels["stream"][name] {
			t.Fatalf("no metric has stream=%q: the test's hub lacks a stream", name)
		}
	}

	metric := regexp.MustCompile(`\b(gust|go|process)_[a-z_]+\b`)
	matcher := regexp.MustCompile(`\b(stream|consumer)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	queries := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			for _, name := range metric.FindAllString(tg.Expr, -1) {
				base := name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suffix); ok && served[b] {
						base = b
					}
				}
				if !served[base] {
					t.Errorf("panel %q queries %s, which Gust does not serve", p.Title, name)
				}
			}
			for _, m := range matcher.FindAllStringSubmatch(tg.Expr, -1) {
				label, op, value := m[1], m[2], m[3]
				for _, alt := range strings.Split(value, "|") {
					if op == "=" || op == "!=" {
						alt = regexp.QuoteMeta(alt)
					}
					re, err := regexp.Compile("^(?:" + alt + ")$")
					if err != nil {
						t.Errorf("panel %q: %s%s%q: %v", p.Title, label, op, value, err)
						continue
					}
					if !matchesAny(re, labels[label]) {
						t.Errorf("panel %q filters on %s%s%q, but no metric Gust serves has %s %q (served: %v)",
							p.Title, label, op, value, label, alt, slices.Sorted(maps.Keys(labels[label])))
					}
				}
			}
		}
	}
	if queries < 15 {
		t.Errorf("only %d queries", queries)
	}
}

// matchesAny reports whether re matches one of values.
func matchesAny(re *regexp.Regexp, values map[string]bool) bool {
	for v := range values {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}
