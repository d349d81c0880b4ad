package gustcmd

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads url's metrics, as Prometheus does.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d: %s", url, resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape %s: parse: %v\n%s", url, err, body)
	}
	return fams
}

// metricSum is the sum of family name's samples whose labels include want
// (counters, gauges; a histogram's count), and how many samples matched.
func metricSum(fams map[string]*dto.MetricFamily, name string, want map[string]string) (sum float64, n int) {
	f := fams[name]
	if f == nil {
		return 0, 0
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		n++
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, n
}

// TestE2EMetricsMoveUnderLoad: after invokes, fires (one rule active, one
// disabled) and a CloudEvent through a feed, GET /metrics on the API port
// counts each of them, and reports the pool, JetStream, the consumers'
// lag, the feeds and the activation store.
func TestE2EMetricsMoveUnderLoad(t *testing.T) {
	g, cli := startE2E(t)
	metricsURL := strings.TrimSuffix(g.base, "/api/v1") + MetricsPath

	before := scrape(t, metricsURL)
	for _, name := range []string{"gust_jetstream_storage_bytes", "gust_pool_containers", "gust_activation_store_failures_total", "go_goroutines"} {
		if before[name] == nil {
			t.Errorf("family %s missing before any load", name)
		}
	}
	if v, _ := metricSum(before, "gust_activations_total", nil); v != 0 {
		t.Errorf("gust_activations_total = %v before any activation", v)
	}

	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/echo", nodeAction(echoCode), nil)
	const invokes, fires = 4, 3
	for i := range invokes {
		g.mustCall(t, 200, "POST", "/namespaces/_/actions/echo?blocking=true", map[string]int{"i": i}, nil)
	}
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/temps", map[string]any{}, nil)
	mustGust(t, cli, "rule", "create", "on", "temps", "echo")
	mustGust(t, cli, "rule", "create", "off", "temps", "echo")
	mustGust(t, cli, "rule", "disable", "off")
	for i := range fires {
		g.mustCall(t, 202, "POST", "/namespaces/_/triggers/temps", map[string]int{"i": i}, nil)
	}
	mustGust(t, cli, "trigger", "create", "inbox", "--feed", "cloudevents/ingress", "-p", "token", "s3cret-token")
	req, _ := http.NewRequest("POST", strings.TrimSuffix(g.base, "/api/v1")+"/api/v1/feeds/guest/inbox", strings.NewReader(`{"celsius":21}`))
	req.Header.Set("Authorization", "Bearer s3cret-token")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "m-1", "ce-source": "/sensors", "ce-type": "com.example.t"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("ingress: status %d", resp.StatusCode)
	}
	g.waitActivations(t, "the echoes", func(rs []record) bool { return countNamed(rs, "echo") == invokes+fires })

	// Rule outcomes are counted once the engine is done with an event,
	// just after its record: poll.
	var fams map[string]*dto.MetricFamily
	checks := []struct {
		name   string
		labels map[string]string
		want   func(float64) bool
		what   string
	}{
		{"gust_events_received_total", map[string]string{"feed": "api", "trigger": "guest/temps"}, eq(fires), "fires"},
		{"gust_events_received_total", map[string]string{"feed": "cloudevents/ingress", "trigger": "guest/inbox"}, eq(1), "the ingress event"},
		{"gust_rule_outcomes_total", map[string]string{"trigger": "guest/temps", "outcome": "activated"}, eq(fires), "rule on"},
		{"gust_rule_outcomes_total", map[string]string{"trigger": "guest/temps", "outcome": "inactive"}, eq(fires), "rule off"},
		{"gust_activations_total", map[string]string{"namespace": "guest", "status": "success"}, eq(invokes + fires), "activations"},
		{"gust_activations_total", map[string]string{"namespace": "guest", "start": "cold"}, atLeast(1), "cold starts"},
		{"gust_activations_total", map[string]string{"namespace": "guest", "start": "warm"}, atLeast(1), "warm starts"},
		{"gust_activation_wait_seconds", nil, eq(invokes + fires), "wait observations"},
		{"gust_activation_run_seconds", nil, eq(invokes + fires), "run observations"},
		{"gust_activation_init_seconds", nil, atLeast(1), "init observations"},
		{"gust_pool_containers", nil, atLeast(1), "warm containers"},
		{"gust_pool_memory_used_bytes", nil, atLeast(1 << 20), "pool memory"},
		{"gust_jetstream_stream_messages", map[string]string{"stream": "GUST_EVENTS"}, atLeast(fires + 1), "stored events"},
		{"gust_jetstream_consumer_pending_messages", map[string]string{"stream": "GUST_EVENTS", "consumer": "rules"}, eq(0), "the engine's lag"},
		{"gust_jetstream_storage_bytes", map[string]string{"storage": "file"}, atLeast(1), "JetStream storage"},
		{"gust_feed_instances", map[string]string{"feed": "cloudevents/ingress", "state": "running"}, eq(1), "the ingress feed"},
		{"gust_activation_store_failures_total", nil, eq(0), "store failures"},
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		fams = scrape(t, metricsURL)
		var failed []string
		for _, c := range checks {
			v, n := metricSum(fams, c.name, c.labels)
			if n == 0 || !c.want(v) {
				failed = append(failed, fmt.Sprintf("%s %v = %v (%d series): %s", c.name, c.labels, v, n, c.what))
			}
		}
		if len(failed) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not move as expected:\n%s", strings.Join(failed, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if len(l.GetValue()) == 32 && strings.Trim(l.GetValue(), "0123456789abcdef") == "" {
					t.Errorf("%s has an id-like label %s=%s", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if resp, err := http.Post(metricsURL, "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %v %v, want 405", resp, err)
	}
}

func eq(n float64) func(float64) bool      { return func(v float64) bool { return v == n } }
func atLeast(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }

// TestE2EMetricsListen: --metrics-listen moves /metrics off the API port,
// and off turns it off.
func TestE2EMetricsListen(t *testing.T) {
	requireEngine(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g := startGust(t, t.TempDir(), "--metrics-listen", addr)
	fams := scrape(t, "http://"+addr+MetricsPath)
	if fams["gust_pool_containers"] == nil || fams["gust_jetstream_storage_bytes"] == nil {
		t.Errorf("metrics at --metrics-listen lack the pool or JetStream: %d families", len(fams))
	}
	api := strings.TrimSuffix(g.base, "/api/v1") + MetricsPath
	if resp, err := http.Get(api); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s with --metrics-listen: %v %v, want 404", api, resp, err)
	}
	g.stop(t)

	off := startGust(t, t.TempDir(), "--metrics-listen", "off")
	api = strings.TrimSuffix(off.base, "/api/v1") + MetricsPath
	if resp, err := http.Get(api); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s with --metrics-listen off: %v %v, want 404", api, resp, err)
	}
}
