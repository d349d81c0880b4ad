package gustcmd

import (
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
