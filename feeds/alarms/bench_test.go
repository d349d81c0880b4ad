package alarms

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/internal/procs"
)

// BenchmarkAlarmPrecision measures, on the real clock, how late an alarm
// fires: the time its emit is called minus its slot, for an every-second
// cron, over precisionSlots slots per iteration. The floor is a bare
// time.Timer waiting for the same whole seconds in the same run.
func BenchmarkAlarmPrecision(b *testing.B) {
	b.Cleanup(procs.AsServe()) // measure what gust serve runs
	const precisionSlots = 5
	var late, floor []time.Duration
	for range b.N {
		f, err := alarmProvider.Build(config(params("cron", "* * * * * *"), time.Now, &feedtest.MemoryCheckpoint{}))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		n := 0
		fired := make(chan struct{})
		emit := func(_ context.Context, e event.Event) error {
			d := time.Since(e.Time())
			mu.Lock()
			defer mu.Unlock()
			if n++; n <= precisionSlots {
				late = append(late, d)
				if n == precisionSlots {
					close(fired)
				}
			}
			return nil
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := f.(feeds.Feed).Run(ctx, emit); err != nil {
				b.Error(err)
			}
		})
		wg.Go(func() {
			for range precisionSlots {
				slot := time.Now().Truncate(time.Second).Add(time.Second)
				t := time.NewTimer(time.Until(slot))
				<-t.C
				d := time.Since(slot)
				mu.Lock()
				floor = append(floor, d)
				mu.Unlock()
			}
		})
		<-fired
		cancel()
		wg.Wait()
	}
	b.ReportMetric(percentile(late, 50), "p50-µs")
	b.ReportMetric(percentile(late, 99), "p99-µs")
	b.ReportMetric(percentile(floor, 50), "floor-p50-µs")
	b.ReportMetric(percentile(floor, 99), "floor-p99-µs")
}

// percentile returns the p-th percentile of d (nearest rank) in
// microseconds.
func percentile(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := max((len(s)*p+99)/100, 1)
	return float64(s[rank-1].Nanoseconds()) / 1e3
}
