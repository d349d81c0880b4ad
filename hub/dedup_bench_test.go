package hub_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// dedupBenchEvents is how many events each measurement takes.
const dedupBenchEvents = 20000

// BenchmarkDedup compares the two ways to remember event ids for a long
// duplicate window, per event, against the floor of a plain synchronous
// publish to a stream without duplicate tracking (embedded hub, file
// storage, one publisher):
//
//   - stream-window: the events stream's own duplicate window set to 72h
//     (a Nats-Msg-Id per event). The server keeps every id of the window
//     in memory, with no bound but the window, and cannot vary it per
//     trigger.
//   - event-ids: hub.EventIDs, a claim per event (a publish with an
//     expected last sequence and a per-message TTL to its own stream),
//     bounded in bytes, with a window per trigger.
//
// Figures: µs per event, and the heap (B/id, the whole process's, after a
// GC) and disk (disk-B/id) that each remembered id takes.
func BenchmarkDedup(b *testing.B) {
	ctx := context.Background()
	h := hubtest.Start(b)
	js := h.JetStream()
	round := 0
	stream := func(name string, dup time.Duration) {
		b.Helper()
		_ = js.DeleteStream(ctx, name)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"},
			Storage: jetstream.FileStorage, Duplicates: dup}); err != nil {
			b.Fatal(err)
		}
	}
	heap := func() uint64 {
		time.Sleep(6 * time.Second) // the file store drops its block caches
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// floor: plain publishes, the same payload, no duplicate tracking.
	floor := func() float64 {
		stream("FLOOR", 0) // no message ids: nothing is tracked
		start := time.Now()
		for i := range dedupBenchEvents {
			if _, err := js.Publish(ctx, fmt.Sprintf("FLOOR.%d", i%64), []byte(`{"order":42}`)); err != nil {
				b.Fatal(err)
			}
		}
		return float64(time.Since(start).Microseconds()) / dedupBenchEvents
	}
	report := func(b *testing.B, perEvent, floorPerEvent, heapPerID, diskPerID float64) {
		b.ReportMetric(perEvent, "µs/event")
		b.ReportMetric(floorPerEvent, "floor-µs/event")
		b.ReportMetric(heapPerID, "heap-B/id")
		if diskPerID > 0 {
			b.ReportMetric(diskPerID, "disk-B/id")
		}
	}

	b.Run("stream-window", func(b *testing.B) {
		var per, fl, mem float64
		for b.Loop() {
			round++
			fl += floor()
			stream("WINDOW", 72*time.Hour)
			before := heap()
			start := time.Now()
			for i := range dedupBenchEvents {
				id := fmt.Sprintf("guest/t/%032x", round*dedupBenchEvents+i)
				if _, err := js.Publish(ctx, fmt.Sprintf("WINDOW.%d", i%64), []byte(`{"order":42}`), jetstream.WithMsgID(id)); err != nil {
					b.Fatal(err)
				}
			}
			per += float64(time.Since(start).Microseconds()) / dedupBenchEvents
			mem += (float64(heap()) - float64(before)) / dedupBenchEvents
		}
		n := float64(b.N)
		report(b, per/n, fl/n, mem/n, 0)
	})

	b.Run("event-ids", func(b *testing.B) {
		var per, fl, mem, disk float64
		for b.Loop() {
			round++
			fl += floor()
			_ = js.DeleteStream(ctx, hub.EventIDsStream)
			ids, err := hub.OpenEventIDs(ctx, js, 0)
			if err != nil {
				b.Fatal(err)
			}
			before := heap()
			start := time.Now()
			for i := range dedupBenchEvents {
				key := hub.EventKey("guest", "t", "/bench", fmt.Sprint(round*dedupBenchEvents+i))
				if ok, err := ids.Claim(ctx, key, "0123456789abcdef0123456789abcdef", hub.DefaultDedupWindow); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
			per += float64(time.Since(start).Microseconds()) / dedupBenchEvents
			mem += (float64(heap()) - float64(before)) / dedupBenchEvents
			st, err := js.Stream(ctx, hub.EventIDsStream)
			if err != nil {
				b.Fatal(err)
			}
			info, err := st.Info(ctx)
			if err != nil {
				b.Fatal(err)
			}
			disk += float64(info.State.Bytes) / float64(info.State.Msgs)
		}
		n := float64(b.N)
		report(b, per/n, fl/n, mem/n, disk/n)
	})
}
