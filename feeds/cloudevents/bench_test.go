package cloudevents_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/webhook/ingress/ingresstest"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/internal/procs"
)

// benchEvents is how many events each round sends; benchWorkers how many
// senders run at once (each with a keep-alive connection).
const (
	benchEvents  = 4000
	benchWorkers = 8
)

// BenchmarkIngress measures CloudEvents taken over HTTP by the ingress
// feed, binary and structured, each answered 202 after JetStream stored it
// (an embedded hub, file storage), against the floor of the same number of
// synchronous JetStream publishes of the same events with the same
// parallelism. The path is the API's minus its routing: an HTTP server on
// 127.0.0.1 whose handler calls Receive. Figures are events/s.
func BenchmarkIngress(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	ctx := context.Background()
	h, _ := hubtest.Events(b)
	js := h.JetStream()
	pub := hub.NewPublisher(js)
	emit := func(ctx context.Context, e event.Event) error { return pub.Publish(ctx, "guest", "bench", e, nil) }
	f := newIngress(b, tokenParams())
	srv := httptest.NewServer(ingresstest.Handler(f.(feeds.Receiver), emit))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchWorkers}}
	var round atomic.Int64

	for _, mode := range []string{"binary", "structured"} {
		b.Run(mode, func(b *testing.B) {
			send := func(id string) error {
				var req *http.Request
				if mode == "binary" {
					req, _ = http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader([]byte(`{"order":42}`)))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("ce-specversion", "1.0")
					req.Header.Set("ce-id", id)
					req.Header.Set("ce-source", "/bench")
					req.Header.Set("ce-type", "dev.gust.bench")
				} else {
					body := `{"specversion":"1.0","id":"` + id + `","source":"/bench","type":"dev.gust.bench","datacontenttype":"application/json","data":{"order":42}}`
					req, _ = http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader([]byte(body)))
					req.Header.Set("Content-Type", "application/cloudevents+json")
				}
				req.Header.Set("Authorization", "Bearer "+token)
				return ingresstest.Accepted(client, req)
			}
			floor := func(id string) error {
				e := event.New()
				e.SetID(id)
				e.SetSource("/bench")
				e.SetType("dev.gust.bench")
				_ = e.SetData(event.ApplicationJSON, []byte(`{"order":42}`))
				return emit(ctx, e)
			}
			var rate, floorRate float64
			for range b.N {
				rate += parallel(b, fmt.Sprintf("%s-%d", mode, round.Add(1)), send)
				floorRate += parallel(b, fmt.Sprintf("floor-%s-%d", mode, round.Add(1)), floor)
			}
			b.ReportMetric(rate/float64(b.N), "events/s")
			b.ReportMetric(floorRate/float64(b.N), "floor-events/s")
		})
	}
}

// parallel runs do for benchEvents distinct ids on benchWorkers goroutines
// and returns the events per second.
func parallel(b *testing.B, prefix string, do func(id string) error) float64 {
	rate, _ := ingresstest.Load(b, benchEvents, benchWorkers, prefix, do)
	return rate
}
