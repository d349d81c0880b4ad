package actions_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// listed is what the list test expects of a record.
type listedRecord struct {
	ns, path, id string
	start        int64
	seq          int
}

// TestListPages stores records as a busy namespace leaves them: most are
// stored right after they start, some long activations much later (so
// stream order is not start order), some share a start, another
// namespace's records are interleaved and follow them. Every page, with
// every filter, must be what sorting all of them gives.
func TestListPages(t *testing.T) {
	s, closeHub := openRecords(t, t.TempDir())
	defer closeHub()
	ctx := context.Background()
	base := time.Now().UnixMilli() - 60_000
	var all []listedRecord
	var stored []func(context.Context) error
	put := func(ns, path string, start int64) {
		a := record(actions.NewActivationID(), start, 1, 10, `{}`)
		a.Namespace, a.Name = ns, path
		a.Annotations = actions.KeyValues{}.Set("path", ns+"/"+path)
		all = append(all, listedRecord{ns: ns, path: path, id: a.ActivationID, start: start, seq: len(all)})
		stored = append(stored, s.PutAsync(ctx, a, nil).Wait)
	}
	paths := []string{"hello", "pkg/act", "late"}
	for i := range 900 {
		start := base + int64(i)*10
		switch {
		case i%3 == 2:
			start -= 20_000 // started 20 s before it was stored
		case i%50 == 0:
			start -= 10 // the same start as the record before
		}
		put("guest", paths[i%3], start)
		if i%4 == 0 {
			put("other", "hello", start)
		}
	}
	for range 300 {
		put("other", "hello", time.Now().UnixMilli())
	}
	for _, wait := range stored {
		if err := wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := func(q actions.Query) ([]string, int) {
		var sel []listedRecord
		for _, r := range all {
			if r.ns == q.Namespace && (q.Path == "" || r.path == q.Path) &&
				(q.Since == 0 || r.start >= q.Since) && (q.Upto == 0 || r.start <= q.Upto) {
				sel = append(sel, r)
			}
		}
		sort.Slice(sel, func(i, j int) bool {
			return sel[i].start > sel[j].start || (sel[i].start == sel[j].start && sel[i].seq > sel[j].seq)
		})
		total := len(sel)
		sel = sel[min(q.Skip, len(sel)):]
		if q.Limit > 0 {
			sel = sel[:min(q.Limit, len(sel))]
		}
		ids := []string{}
		for _, r := range sel {
			ids = append(ids, r.id)
		}
		return ids, total
	}
	for _, q := range []actions.Query{
		{Namespace: "guest", Limit: 30},
		{Namespace: "guest", Limit: 1},
		{Namespace: "guest", Skip: 30, Limit: 30},
		{Namespace: "guest", Skip: 200, Limit: 200},
		{Namespace: "guest", Skip: 880, Limit: 50},
		{Namespace: "guest", Skip: 1000, Limit: 10},
		{Namespace: "guest", Path: "late", Limit: 20},
		{Namespace: "guest", Path: "pkg/act", Skip: 5, Limit: 20},
		{Namespace: "guest", Since: base + 8_000, Limit: 25},
		{Namespace: "guest", Upto: base + 4_000, Limit: 25},
		{Namespace: "guest", Since: base + 1_000, Upto: base + 2_000, Skip: 3, Limit: 40},
		{Namespace: "guest", Since: base + 100_000, Limit: 10},
		{Namespace: "other", Limit: 30},
		{Namespace: "other", Skip: 290, Limit: 30},
		{Namespace: "nobody", Limit: 30},
		{Namespace: "guest"},
		{Namespace: "guest", Since: base + 8_000},
	} {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			got, total, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, a := range got {
				ids = append(ids, a.ActivationID)
			}
			wantIDs, wantTotal := want(q)
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("got %d ids %v\nwant %d: %v", len(ids), ids, len(wantIDs), wantIDs)
			}
			if n, err := s.Count(ctx, q); err != nil || n != wantTotal {
				t.Errorf("count %d (%v), want %d", n, err, wantTotal)
			}
			if q.Limit > 0 && (q.Since > 0 || q.Upto > 0) {
				wantTotal = -1
			}
			if total != wantTotal {
				t.Errorf("total %d, want %d", total, wantTotal)
			}
		})
	}
}
