package throttle_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/hub/throttle"
)

// BenchmarkThrottle measures a throttled invoke's cost against a floor
// measured in the same run: one compare-and-set update of a JetStream KV
// counter, what counting without local batches would cost each request.
// Report the ratios (allow/floor, acquire+release/floor).
func BenchmarkThrottle(b *testing.B) {
	ctx := context.Background()
	b.Run("floor-kv-update", func(b *testing.B) {
		h := hubtest.Start(b)
		kv, err := h.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "bench", History: 1})
		if err != nil {
			b.Fatal(err)
		}
		rev, err := kv.Create(ctx, "n", []byte("0"))
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			if rev, err = kv.Update(ctx, "n", []byte(strconv.Itoa(i)), rev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("allow-per-minute", func(b *testing.B) {
		th := openBench(b, throttle.Limits{InvocationsPerMinute: 1 << 30})
		b.ResetTimer()
		for range b.N {
			if err := th.Allow(ctx, throttle.Invocations, "guest"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("acquire-release", func(b *testing.B) {
		th := openBench(b, throttle.Limits{ConcurrentInvocations: 1 << 30})
		b.ResetTimer()
		for range b.N {
			if _, err := th.Acquire(ctx, "guest"); err != nil {
				b.Fatal(err)
			}
			if err := th.Release(ctx, "guest"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func openBench(b *testing.B, defaults throttle.Limits) *throttle.Throttle {
	b.Helper()
	th, err := throttle.Open(context.Background(), hubtest.Start(b).JetStream(), throttle.Options{Defaults: defaults})
	if err != nil {
		b.Fatal(err)
	}
	return th
}
