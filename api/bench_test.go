package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/internal/procs"
)

// benchSamples is how many requests each latency benchmark times, whatever
// b.N is, so that its percentiles are stable.
const benchSamples = 2000

// timeRequests sends n requests made by mk and returns their latencies,
// sorted; any status but 200 fails the benchmark.
func timeRequests(b *testing.B, client *http.Client, n int, mk func(i int) *http.Request) []time.Duration {
	b.Helper()
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		req := mk(i)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s %s: status %d", req.Method, req.URL, resp.StatusCode)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

func percentile(sorted []time.Duration, p float64) float64 {
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Nanoseconds()) / 1e3
}

// reportLatency reports p50/p99 of lat against the floor's, in µs.
func reportLatency(b *testing.B, lat, floor []time.Duration) {
	b.ReportMetric(percentile(lat, 0.50), "p50-µs")
	b.ReportMetric(percentile(lat, 0.99), "p99-µs")
	b.ReportMetric(percentile(floor, 0.50), "floor-p50-µs")
	b.ReportMetric(percentile(floor, 0.99), "floor-p99-µs")
}

// floorLatency times the same requests against a bare net/http handler that
// reads the body and answers a small JSON document: the cost of HTTP on
// loopback, which the API cannot go below.
func floorLatency(b *testing.B, client *http.Client, mk func(base string, i int) *http.Request) []time.Duration {
	floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"namespace":"guest","name":"x","version":"0.0.1"}`)
	}))
	defer floor.Close()
	return timeRequests(b, client, benchSamples, func(i int) *http.Request { return mk(floor.URL, i) })
}

const benchAction = `{"exec":{"kind":"nodejs:20","code":"function main(p) { return {ok: true}; }"},"parameters":[{"key":"greeting","value":"hi"}]}`

func putRequest(base string, i int) *http.Request {
	url := fmt.Sprintf("%s/api/v1/namespaces/_/actions/bench%d?overwrite=true", base, i)
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(benchAction))
	req.Header.Set("Content-Type", "application/json")
	user, pass, _ := strings.Cut(api.DevGuestKey, ":")
	req.SetBasicAuth(user, pass)
	return req
}

func getRequest(base string, i int) *http.Request {
	url := fmt.Sprintf("%s/api/v1/namespaces/_/actions/bench%d?code=false", base, i%100)
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	user, pass, _ := strings.Cut(api.DevGuestKey, ":")
	req.SetBasicAuth(user, pass)
	return req
}

// BenchmarkEntityPut times PUT of an action through the API (auth, decode,
// validate, JetStream KV write) against the bare HTTP floor.
func BenchmarkEntityPut(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	srv := newEnv(b).srv
	client := srv.Client()
	for i := 0; i < b.N; i++ {
		lat := timeRequests(b, client, benchSamples, func(i int) *http.Request { return putRequest(srv.URL, i) })
		floor := floorLatency(b, client, putRequest)
		reportLatency(b, lat, floor)
	}
}

// BenchmarkEntityGet times GET of an action through the API against the
// bare HTTP floor.
func BenchmarkEntityGet(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	srv := newEnv(b).srv
	client := srv.Client()
	timeRequests(b, client, 100, func(i int) *http.Request { return putRequest(srv.URL, i) })
	for i := 0; i < b.N; i++ {
		lat := timeRequests(b, client, benchSamples, func(i int) *http.Request { return getRequest(srv.URL, i) })
		floor := floorLatency(b, client, getRequest)
		reportLatency(b, lat, floor)
	}
}
