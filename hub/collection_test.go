package hub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

type thing struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func newCollection(t *testing.T) (*hub.Hub, *hub.Collection[thing]) {
	t.Helper()
	ctx := context.Background()
	h := hubtest.Start(t)
	c, err := hub.OpenCollection[thing](ctx, h.JetStream(), "test_things")
	if err != nil {
		t.Fatal(err)
	}
	return h, c
}

func TestCollection(t *testing.T) {
	ctx := context.Background()
	_, c := newCollection(t)
	k := hub.Key("guest", "a.b")

	if _, _, err := c.Get(ctx, k); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	rev, err := c.Create(ctx, k, thing{Name: "a.b", N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, k, thing{N: 2}); !errors.Is(err, hub.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	v, grev, err := c.Get(ctx, k)
	if err != nil || v != (thing{Name: "a.b", N: 1}) || grev != rev {
		t.Fatalf("Get = %v, %d, %v; want {a.b 1}, %d", v, grev, err, rev)
	}
	rev2, err := c.Update(ctx, k, thing{Name: "a.b", N: 3}, rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(ctx, k, thing{N: 4}, rev); !errors.Is(err, hub.ErrConflict) {
		t.Fatalf("Update at a stale revision: %v, want ErrConflict", err)
	}
	if err := c.Delete(ctx, k, rev); !errors.Is(err, hub.ErrConflict) {
		t.Fatalf("Delete at a stale revision: %v, want ErrConflict", err)
	}
	if v, _, _ := c.Get(ctx, k); v.N != 3 {
		t.Fatalf("value after the failed writes: %v", v)
	}
	if err := c.Delete(ctx, k, rev2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, k); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if _, err := c.Create(ctx, k, thing{N: 5}); err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
	if _, err := c.Put(ctx, k, thing{N: 6}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, k, 0); err != nil {
		t.Fatalf("Delete at any revision: %v", err)
	}
	if _, _, err := c.Get(ctx, k); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("Get after Delete(0): %v", err)
	}
}

func TestCollectionList(t *testing.T) {
	ctx := context.Background()
	_, c := newCollection(t)
	for _, k := range [][]string{{"guest", "a"}, {"guest", "b"}, {"guest.x", "c"}, {"other", "d"}, {"guest", "gone"}} {
		if _, err := c.Create(ctx, hub.Key(k...), thing{Name: k[1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(ctx, hub.Key("guest", "gone"), 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{hub.EncodeToken("guest") + ".*", []string{"a", "b"}},
		{hub.EncodeToken("guest.x") + ".*", []string{"c"}},
		{">", []string{"a", "b", "c", "d"}},
		{"nobody.*", nil},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			es, err := c.List(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Value.Name)
				if e.Revision == 0 || e.Key == "" {
					t.Errorf("entry %+v lacks key or revision", e)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestCollectionWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, c := newCollection(t)
	if _, err := c.Create(ctx, hub.Key("guest", "a"), thing{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, hub.Key("other", "z"), thing{Name: "z"}); err != nil {
		t.Fatal(err)
	}
	ch, err := c.Watch(ctx, "guest.*")
	if err != nil {
		t.Fatal(err)
	}
	next := func() hub.Change[thing] {
		t.Helper()
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatal("watch closed early")
			}
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no change within 5s")
		}
		return hub.Change[thing]{}
	}
	if ch1 := next(); ch1.Value.Name != "a" || ch1.Deleted || ch1.Ready {
		t.Fatalf("first change %+v, want the initial value a", ch1)
	}
	if ch2 := next(); !ch2.Ready {
		t.Fatalf("second change %+v, want Ready", ch2)
	}
	rev, err := c.Create(ctx, hub.Key("guest", "b"), thing{Name: "b", N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, hub.Key("other", "y"), thing{Name: "y"}); err != nil {
		t.Fatal(err)
	}
	if ch3 := next(); ch3.Value.Name != "b" || ch3.Revision != rev || ch3.Key != "guest.b" {
		t.Fatalf("change %+v, want the creation of b", ch3)
	}
	if err := c.Delete(ctx, hub.Key("guest", "b"), 0); err != nil {
		t.Fatal(err)
	}
	if ch4 := next(); !ch4.Deleted || ch4.Key != "guest.b" {
		t.Fatalf("change %+v, want the deletion of b", ch4)
	}
	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not close after its context ended")
	}
}

// TestCollectionRevision: a collection's revision is its last change's,
// a deletion's included, and 0 while it is empty.
func TestCollectionRevision(t *testing.T) {
	ctx := context.Background()
	_, c := newCollection(t)
	if rev, err := c.Revision(ctx); err != nil || rev != 0 {
		t.Fatalf("empty: revision %d, %v", rev, err)
	}
	var last uint64
	for i, k := range []string{"a", "b", "a"} {
		rev, err := c.Put(ctx, hub.Key(k), thing{N: i})
		if err != nil {
			t.Fatal(err)
		}
		last = rev
		if got, err := c.Revision(ctx); err != nil || got != last {
			t.Fatalf("after put %d: revision %d, %v, want %d", i, got, err, last)
		}
	}
	if err := c.Delete(ctx, hub.Key("b"), 0); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Revision(ctx); err != nil || got != last+1 {
		t.Fatalf("after a deletion: revision %d, %v, want %d", got, err, last+1)
	}
}

func TestStartNeedsDataDir(t *testing.T) {
	if _, err := hub.Start(context.Background(), hub.Options{}); err == nil {
		t.Fatal("Start without a data directory succeeded")
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	h, err := hub.Start(context.Background(), hub.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if h.ClientURL() != "" {
		t.Errorf("ClientURL %q without a listener", h.ClientURL())
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}
