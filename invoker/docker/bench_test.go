package docker

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gusthub/gust/invoker"
)

// drain reads a container's logs until they close, as the invoker would.
func drain(c invoker.Container) {
	go func() {
		for range c.Logs() {
		}
	}()
}

// reportPercentiles reports the p50 and p99 of durations, in microseconds.
func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRunRoundTrip measures a POST /run to a warm container over a
// keep-alive connection, one request at a time: without output (the
// transport alone, as the floors measure it) and with the two sentinel
// lines a runtime prints after each activation.
func BenchmarkRunRoundTrip(b *testing.B) {
	s := requireDocker(b, Options{})
	const quiet = `{"value":{"name":"gust","quiet":true},"namespace":"guest","action_name":"/guest/echo","activation_id":"a1","deadline":"1700000000000"}`
	const logged = `{"value":{"name":"gust"},"namespace":"guest","action_name":"/guest/echo","activation_id":"a1","deadline":"1700000000000"}`
	for _, tt := range []struct {
		name   string
		socket bool
		body   string
	}{
		{"socket", true, quiet},
		{"port", false, quiet},
		{"socket+sentinels", true, logged},
		{"port+sentinels", false, logged},
	} {
		body := []byte(tt.body)
		b.Run(tt.name, func(b *testing.B) {
			c := create(b, s, testSpec(b, s, tt.socket))
			drain(c)
			url := c.BaseURL() + "/run"
			do := func() {
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				resp, err := c.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("run: %s", resp.Status)
				}
			}
			do() // open the keep-alive connection
			// At least runSamples requests whatever b.N is, so that make
			// bench's -benchtime 1x still yields stable percentiles.
			lat := make([]time.Duration, 0, max(b.N, runSamples))
			b.ResetTimer()
			for i := 0; i < max(b.N, runSamples); i++ {
				t0 := time.Now()
				do()
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

// Minimum samples per figure.
const (
	runSamples    = 2000
	createSamples = 5
)

// BenchmarkCreate measures creating and starting a container until its
// proxy accepts connections. Removal is not timed.
func BenchmarkCreate(b *testing.B) {
	s := requireDocker(b, Options{})
	for _, tt := range transports {
		b.Run(tt.name, func(b *testing.B) {
			spec := testSpec(b, s, tt.socket)
			ctx := context.Background()
			var lat []time.Duration
			for i := 0; i < max(b.N, createSamples); i++ {
				spec.Name = "gust-test-" + run + "-" + randomID()
				t0 := time.Now()
				c, err := s.Create(ctx, spec)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				b.StopTimer()
				drain(c)
				if err := c.Destroy(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			reportPercentiles(b, lat)
		})
	}
}

// BenchmarkPauseResume measures what the pool's pause-grace costs: pausing
// an idle container and resuming it before a /run, against the floor of the
// same /run on a running container. The resume is on the next activation's
// critical path.
func BenchmarkPauseResume(b *testing.B) {
	s := requireDocker(b, Options{})
	c := create(b, s, testSpec(b, s, true))
	drain(c)
	ctx := context.Background()
	body := []byte(`{"value":{"quiet":true},"namespace":"guest","action_name":"/guest/echo","activation_id":"a1","deadline":"1700000000000"}`)
	run := func() {
		resp, err := c.Client().Post(c.BaseURL()+"/run", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	const n = 50
	var pause, resume, floor []time.Duration
	for range b.N {
		for range n {
			t0 := time.Now()
			if err := c.Pause(ctx); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := c.Resume(ctx); err != nil {
				b.Fatal(err)
			}
			run()
			pause, resume = append(pause, t1.Sub(t0)), append(resume, time.Since(t1))
			t3 := time.Now()
			run()
			floor = append(floor, time.Since(t3))
		}
	}
	slices.Sort(pause)
	slices.Sort(resume)
	slices.Sort(floor)
	b.ReportMetric(float64(pause[len(pause)/2].Microseconds())/1e3, "pause-p50-ms")
	b.ReportMetric(float64(resume[len(resume)/2].Microseconds())/1e3, "resume+run-p50-ms")
	b.ReportMetric(float64(floor[len(floor)/2].Microseconds())/1e3, "floor-resume+run-p50-ms")
}
