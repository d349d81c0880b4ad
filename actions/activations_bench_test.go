package actions_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// fillRecords stores n records of namespace ns as the invoker writes
// them, at about rate a second: each starts when it is made, and they are
// put through PutAsync in groups, so that each is stored a moment after it
// started. Paths cycle over three actions, one in a package.
func fillRecords(tb testing.TB, s *actions.ActivationStore, ns string, n, rate int) {
	tb.Helper()
	ctx := context.Background()
	paths := []string{"hello", "pkg/act", "other"}
	const group = 100
	tick := time.NewTicker(time.Second * group / time.Duration(rate))
	defer tick.Stop()
	for i := 0; i < n; i += group {
		<-tick.C
		var stored []func(context.Context) error
		for j := i; j < min(i+group, n); j++ {
			start := time.Now().UnixMilli()
			a := &actions.Activation{
				Namespace: ns, Name: paths[j%3], Version: "0.0.1", Subject: ns, ActivationID: actions.NewActivationID(),
				Start: start, End: start + 3, Duration: 3,
				Response: actions.Response{Result: []byte(fmt.Sprintf(`{"i":%d}`, j))},
				Logs:     []string{"2026-12-05T14:00:00.000000000Z stdout: hello", "2026-12-05T14:00:00.000000000Z stdout: world"},
				Annotations: actions.KeyValues{}.Set("path", ns+"/"+paths[j%3]).Set("kind", "nodejs:20").
					Set("limits", actions.DefaultLimits()).Set("waitTime", 2).Set("initTime", 40),
			}
			stored = append(stored, s.PutAsync(ctx, a, nil).Wait)
		}
		for k, wait := range stored {
			if err := wait(ctx); err != nil {
				tb.Fatalf("record %d: %v", i+k, err)
			}
		}
	}
}

// BenchmarkActivationList lists pages of 30 of 10,000 records of a
// namespace, stored at 5,000 a second (another namespace has 2,000 more,
// stored after them), as wsk activation list
// does, and reports each page's time as a ratio to a full scan of the
// namespace (a list without limit) measured in the same run: "x-faster"
// above 1 is a page cheaper than reading everything.
func BenchmarkActivationList(b *testing.B) {
	s, closeHub := openRecords(b, b.TempDir())
	defer closeHub()
	fillRecords(b, s, "guest", 10_000, 5_000)
	fillRecords(b, s, "other", 2_000, 5_000)
	now := time.Now().UnixMilli()
	ctx := context.Background()
	list := func(b *testing.B, q actions.Query) time.Duration {
		b.Helper()
		start := time.Now()
		got, _, err := s.List(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if q.Limit > 0 && len(got) != q.Limit {
			b.Fatalf("%+v: %d records, want %d", q, len(got), q.Limit)
		}
		return time.Since(start)
	}
	var floor time.Duration
	const floorRuns = 3
	for range floorRuns {
		floor += list(b, actions.Query{Namespace: "guest"})
	}
	floor /= floorRuns
	b.Run("count", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			start := time.Now()
			if n, err := s.Count(ctx, actions.Query{Namespace: "guest"}); err != nil || n != 10_000 {
				b.Fatalf("count %d, %v", n, err)
			}
			total += time.Since(start)
		}
		count := total / time.Duration(b.N)
		b.ReportMetric(float64(floor.Microseconds())/1000, "scan-ms")
		b.ReportMetric(float64(count.Microseconds())/1000, "count-ms")
		b.ReportMetric(float64(floor)/float64(count), "x-faster")
	})
	for _, tc := range []struct {
		name string
		q    actions.Query
	}{
		{"first page", actions.Query{Namespace: "guest", Limit: 30}},
		{"skip 200", actions.Query{Namespace: "guest", Skip: 200, Limit: 30}},
		{"by name", actions.Query{Namespace: "guest", Path: "pkg/act", Limit: 30}},
		{"since", actions.Query{Namespace: "guest", Since: now - 60_000, Limit: 30}},
		{"docs", actions.Query{Namespace: "guest", Limit: 30, Docs: true}},
		{"small namespace", actions.Query{Namespace: "other", Limit: 30}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				total += list(b, tc.q)
			}
			page := total / time.Duration(b.N)
			b.ReportMetric(float64(floor.Microseconds())/1000, "scan-ms")
			b.ReportMetric(float64(page.Microseconds())/1000, "page-ms")
			b.ReportMetric(float64(floor)/float64(page), "x-faster")
		})
	}
}
