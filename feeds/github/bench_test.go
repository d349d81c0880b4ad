package github_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
	_ "github.com/gusthub/gust/feeds/webhook"
	"github.com/gusthub/gust/feeds/webhook/ingress"
	"github.com/gusthub/gust/feeds/webhook/ingress/ingresstest"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/internal/procs"
)

const (
	benchDeliveries = 3000
	benchWorkers    = 8
)

// BenchmarkDelivery measures signed GitHub push deliveries (the real 7.6 KB
// push payload) accepted by the GitHub feed, each answered 202 after
// JetStream stored the event (an embedded hub, file storage), from 8
// keep-alive senders. Its floors, measured in alternating rounds of the
// same run with the same deliveries: the generic webhook feed with the
// same secret (webhook/webhook, also stored), and a bare net/http handler
// that reads the body and answers 202 (nothing stored). Figures are
// deliveries/s and the p99 of each delivery's round trip in ms.
func BenchmarkDelivery(b *testing.B) {
	b.Cleanup(procs.AsServe())
	h, _ := hubtest.Events(b)
	js := h.JetStream()
	pub := hub.NewPublisher(js)
	emit := func(ctx context.Context, e event.Event) error { return pub.Publish(ctx, "guest", "bench", e, nil) }
	wp, _ := feeds.Registered().Lookup("webhook/webhook")
	hook, err := wp.Build(feedtestConfig(secret))
	if err != nil {
		b.Fatal(err)
	}
	servers := map[string]*httptest.Server{
		"github":  httptest.NewServer(ingresstest.Handler(newFeed(b, params()).(feeds.Receiver), emit)),
		"webhook": httptest.NewServer(ingresstest.Handler(hook.(feeds.Receiver), emit)),
		"bare": httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		})),
	}
	for _, s := range servers {
		defer s.Close()
	}
	push := feedtest.Testdata(b, "push")
	sig := ingress.Signature(secret, push)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchWorkers}}
	var round atomic.Int64
	send := func(target string) func(id string) error {
		return func(id string) error {
			req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(push))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "push")
			req.Header.Set("X-GitHub-Delivery", id)
			req.Header.Set("X-Hub-Signature-256", sig)
			return ingresstest.Accepted(client, req)
		}
	}
	for _, floor := range []string{"webhook", "bare"} {
		b.Run("vs-"+floor, func(b *testing.B) {
			var rate, floorRate, p99, floorP99 float64
			for range b.N {
				r, p := deliver(b, fmt.Sprintf("gh-%d", round.Add(1)), send(servers["github"].URL))
				fr, fp := deliver(b, fmt.Sprintf("%s-%d", floor, round.Add(1)), send(servers[floor].URL))
				rate, p99, floorRate, floorP99 = rate+r, p99+p, floorRate+fr, floorP99+fp
			}
			n := float64(b.N)
			b.ReportMetric(rate/n, "deliveries/s")
			b.ReportMetric(floorRate/n, "floor-deliveries/s")
			b.ReportMetric(p99/n, "p99-ms")
			b.ReportMetric(floorP99/n, "floor-p99-ms")
		})
	}
}

// deliver runs do for benchDeliveries distinct ids on benchWorkers
// goroutines; it returns deliveries per second and the p99 in ms.
func deliver(b *testing.B, prefix string, do func(id string) error) (rate, p99 float64) {
	return ingresstest.Load(b, benchDeliveries, benchWorkers, prefix, do)
}

// feedtestConfig is a webhook/webhook configuration with secret s.
func feedtestConfig(s string) feeds.Config {
	p := feeds.Params{}
	p.Set("secret", s)
	return feedtest.Config(p)
}
