package hub_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
)

// TestClusterProcessesProvisionTheSameStoresAtOnce: three processes, one
// on each node of a cluster, that open the same stream, bucket and object
// store at once (gust serve processes started together) all succeed with
// creates alone: no update request reaches JetStream, for an update that
// met another's creation under way lost both answers, and each process
// waited out a try's time limit for every store (issue 19). A process
// whose config differs updates the store.
func TestClusterProcessesProvisionTheSameStoresAtOnce(t *testing.T) {
	hubs := startCluster(t, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var updates atomic.Int32
	for _, h := range hubs {
		// On each hub's own connection, ahead of its requests: it sees
		// every one they make.
		sub, err := h.Conn().Subscribe("$JS.API.STREAM.UPDATE.>", func(*nats.Msg) { updates.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := h.Conn().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	streamCfg := jetstream.StreamConfig{Name: "THINGS", Subjects: []string{"things.>"}, Storage: jetstream.FileStorage, MaxBytes: 1 << 20}
	type thing struct{ N int }
	opens := map[string]func(js jetstream.JetStream) error{
		"stream": func(js jetstream.JetStream) error {
			_, err := hub.OpenStream(ctx, js, streamCfg)
			return err
		},
		"bucket": func(js jetstream.JetStream) error {
			_, err := hub.OpenCollection[thing](ctx, js, "things")
			return err
		},
		"object store": func(js jetstream.JetStream) error {
			_, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "blobs", Storage: jetstream.FileStorage})
			return err
		},
	}
	for what, open := range opens {
		t.Run(what, func(t *testing.T) {
			var wg sync.WaitGroup
			for i, h := range hubs {
				wg.Go(func() {
					if err := open(h.JetStream()); err != nil {
						t.Errorf("node %d: open the %s: %v", i+1, what, err)
					}
				})
			}
			wg.Wait()
		})
	}
	if n := updates.Load(); n != 0 {
		t.Errorf("%d update requests for stores opened with one config; want creates alone", n)
	}

	changed := streamCfg
	changed.MaxBytes = 2 << 20
	st, err := hub.OpenStream(ctx, hubs[1].JetStream(), changed)
	if err != nil {
		t.Fatalf("open the stream with another config: %v", err)
	}
	if got := st.CachedInfo().Config; got.MaxBytes != changed.MaxBytes || got.Replicas != 3 {
		t.Errorf("the stream after an open with MaxBytes %d: MaxBytes %d, replicas %d; want it updated, still R3", changed.MaxBytes, got.MaxBytes, got.Replicas)
	}
	if updates.Load() == 0 {
		t.Error("no update request for a config that differs")
	}
}
