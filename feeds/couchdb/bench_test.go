package couchdb_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/feedrun"
	"github.com/gusthub/gust/internal/procs"
	"github.com/gusthub/gust/internal/upstreamtest"
)

// benchDocs is how many changes one measurement reads.
const benchDocs = 3000

// kvCheckpoint is a checkpoint in a JetStream key-value bucket, as the
// feed manager keeps them.
type kvCheckpoint struct{ kv jetstream.KeyValue }

func (c kvCheckpoint) Load(ctx context.Context) ([]byte, error) {
	e, err := c.kv.Get(ctx, "bench")
	if err != nil {
		return nil, nil
	}
	return e.Value(), nil
}

func (c kvCheckpoint) Save(ctx context.Context, b []byte) error {
	_, err := c.kv.Put(ctx, "bench", b)
	return err
}

// BenchmarkCouchDBChanges measures changes/s from pouchdb-server's
// continuous _changes through the feed to events stored in JetStream, with
// the checkpoint saved after each; the floor is reading the same changes
// from _changes?feed=continuous alone, in the same run.
func BenchmarkCouchDBChanges(b *testing.B) {
	b.Cleanup(procs.AsServe())
	pouch := upstreamtest.PouchDB(b)
	pouch.Do(b, "PUT", "/bench", nil)
	for i := 0; i < benchDocs; i += 500 {
		docs := make([]map[string]any, 0, 500)
		for j := i; j < i+500; j++ {
			docs = append(docs, map[string]any{"_id": fmt.Sprintf("doc-%05d", j), "i": j})
		}
		body, _ := json.Marshal(map[string]any{"docs": docs})
		pouch.Do(b, "POST", "/bench/_bulk_docs", body)
	}
	h := feedrun.StartHub(b, b.TempDir())
	kv, err := h.JetStream().CreateOrUpdateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "bench_checkpoints"})
	if err != nil {
		b.Fatal(err)
	}
	prov := feedtest.Provider(b, "couchdb/changes")
	var rate, floor float64
	for iter := range b.N {
		// The floor: the continuous feed read and decoded, nothing more.
		start := time.Now()
		req, _ := http.NewRequest(http.MethodGet, pouch.URL+"/bench/_changes?feed=continuous&since=0&heartbeat=10000", nil)
		req.Header.Set("Accept-Encoding", "identity") // as the feed asks: a gzipped continuous feed is held back
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		n := 0
		for n < benchDocs && sc.Scan() {
			var ch struct {
				Seq json.RawMessage `json:"seq"`
			}
			if len(sc.Bytes()) > 0 && json.Unmarshal(sc.Bytes(), &ch) == nil && ch.Seq != nil {
				n++
			}
		}
		floor = float64(n) / time.Since(start).Seconds()
		resp.Body.Close()

		_ = kv.Purge(context.Background(), "bench")
		cfg := config(feedtest.Params("url", pouch.URL, "dbname", "bench", "since", 0))
		cfg.Checkpoint = kvCheckpoint{kv}
		f, err := prov.Build(cfg)
		if err != nil {
			b.Fatal(err)
		}
		pub := hub.NewPublisher(h.JetStream())
		var got atomic.Int64
		done := make(chan struct{})
		emit := func(ctx context.Context, e event.Event) error {
			if err := pub.Publish(ctx, "guest", fmt.Sprintf("bench%d", iter), e, nil); err != nil {
				return err
			}
			if got.Add(1) == benchDocs {
				close(done)
			}
			return nil
		}
		start = time.Now()
		r := feedtest.Start(b, f, emit)
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("%d of %d changes in 5 minutes", got.Load(), benchDocs)
		}
		rate = float64(benchDocs) / time.Since(start).Seconds()
		_ = r.Stop(b)
	}
	b.ReportMetric(rate, "changes/s")
	b.ReportMetric(floor, "floor-changes/s")
}
