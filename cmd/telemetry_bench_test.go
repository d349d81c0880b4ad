package gustcmd

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"
)

// BenchmarkTelemetryWarmInvoke: the blocking invoke of a warm action (with a
// traceparent) through a whole `gust serve` with metrics on and spans
// exported over OTLP/HTTP to a receiver on loopback, against the floor of
// another serve with metrics off and no exporter, in the same run, calls
// interleaved so that both see the machine's same spells. Goal: ratio ≤ 1.05.
func BenchmarkTelemetryWarmInvoke(b *testing.B) {
	requireEngine(b)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	b.Cleanup(collector.Close) // after the serves' own cleanups: their last spans are sent
	on := startGust(b, b.TempDir(), "--otlp-endpoint", collector.URL)
	off := startGust(b, b.TempDir(), "--metrics-listen", "off")
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, g := range []*gustProcess{on, off} {
		g.mustCall(b, 200, "PUT", "/namespaces/_/actions/hello", nodeAction(helloCode), nil)
		for range 20 { // cold start, then warm
			g.mustCall(b, 200, "POST", "/namespaces/_/actions/hello?blocking=true&result=true", map[string]string{"name": "x"}, nil, "traceparent", tp)
		}
	}
	n := max(b.N, 400)
	var tOn, tOff []time.Duration
	b.ResetTimer()
	for i := range n {
		for j, g := range []*gustProcess{on, off} {
			if i%2 == 1 {
				g = []*gustProcess{off, on}[j]
			}
			start := time.Now()
			g.mustCall(b, 200, "POST", "/namespaces/_/actions/hello?blocking=true&result=true", map[string]string{"name": "x"}, nil, "traceparent", tp)
			if g == on {
				tOn = append(tOn, time.Since(start))
			} else {
				tOff = append(tOff, time.Since(start))
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(percentileMs(tOn, 50), "p50-ms")
	b.ReportMetric(percentileMs(tOff, 50), "floor-p50-ms")
	b.ReportMetric(percentileMs(tOn, 90), "p90-ms")
	b.ReportMetric(percentileMs(tOff, 90), "floor-p90-ms")
}

func percentileMs(ds []time.Duration, p int) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[(len(s)-1)*p/100].Microseconds()) / 1000
}

// BenchmarkTelemetryFireToCompletion: a fire with a traceparent on a
// trigger with one rule, until the rule's activation record can be read
// (its id from the trigger's record), through serve with metrics on and
// spans exported, against serve with metrics off and no exporter,
// interleaved in the same run. Goal: ratio ≤ 1.05.
func BenchmarkTelemetryFireToCompletion(b *testing.B) {
	requireEngine(b)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	b.Cleanup(collector.Close)
	on := startGust(b, b.TempDir(), "--otlp-endpoint", collector.URL)
	off := startGust(b, b.TempDir(), "--metrics-listen", "off")
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, g := range []*gustProcess{on, off} {
		g.mustCall(b, 200, "PUT", "/namespaces/_/actions/hello", nodeAction(helloCode), nil)
		g.mustCall(b, 200, "PUT", "/namespaces/_/triggers/t", map[string]any{}, nil)
		g.mustCall(b, 200, "PUT", "/namespaces/_/rules/r", map[string]string{"trigger": "/_/t", "action": "/_/hello"}, nil)
		for range 5 {
			fireAndWait(b, g, tp)
		}
	}
	n := max(b.N, 300)
	var tOn, tOff []time.Duration
	b.ResetTimer()
	for i := range n {
		for j := range 2 {
			g := []*gustProcess{on, off}[(i+j)%2]
			d := fireAndWait(b, g, tp)
			if g == on {
				tOn = append(tOn, d)
			} else {
				tOff = append(tOff, d)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(percentileMs(tOn, 50), "p50-ms")
	b.ReportMetric(percentileMs(tOff, 50), "floor-p50-ms")
}

// apiCaller sends one request to a Gust's API with the guest key, decodes
// a JSON answer into out and returns the status: a gustProcess or a
// clusterNode.
type apiCaller interface {
	call(t testing.TB, method, path string, body any, out any, header ...string) int
}

// fireAndWait fires trigger t of g and returns how long until its rule's
// activation record could be read.
func fireAndWait(b *testing.B, g apiCaller, tp string) time.Duration {
	start := time.Now()
	var fired struct{ ActivationID string }
	if code := g.call(b, "POST", "/namespaces/_/triggers/t", map[string]string{"name": "x"}, &fired, "traceparent", tp); code != http.StatusAccepted {
		b.Fatalf("fire t: %d, want 202", code)
	}
	deadline := start.Add(30 * time.Second)
	var trig record
	for g.call(b, "GET", "/namespaces/_/activations/"+fired.ActivationID, nil, &trig) != http.StatusOK || len(trig.Logs) == 0 {
		if time.Now().After(deadline) {
			b.Fatalf("no trigger record %s", fired.ActivationID)
		}
		time.Sleep(200 * time.Microsecond)
	}
	var line struct{ ActivationID string }
	if err := json.Unmarshal([]byte(trig.Logs[0]), &line); err != nil || line.ActivationID == "" {
		b.Fatalf("trigger record log %q: %v", trig.Logs[0], err)
	}
	for g.call(b, "GET", "/namespaces/_/activations/"+line.ActivationID, nil, nil) != http.StatusOK {
		if time.Now().After(deadline) {
			b.Fatalf("no action record %s", line.ActivationID)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return time.Since(start)
}
