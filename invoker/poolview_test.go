package invoker_test

import (
	"context"
	"testing"
	"time"

	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/invoker"
)

func TestPoolContainersOfNamespace(t *testing.T) {
	p, _ := newFakePool(t, invoker.PoolOptions{MemoryMB: 1024})
	use(t, p, "guest|/guest/a|0.0.1|1")
	use(t, p, "other|/other/b|0.0.1|1")
	busy := acquire(t, p, req("guest|/shared/pkg/c|0.0.2|2"))
	defer p.Release(busy, true)
	got := p.Containers("guest")
	if len(got) != 2 {
		t.Fatalf("containers of guest = %+v, want 2", got)
	}
	if a := got[0]; a.Action != "/guest/a" || a.Version != "0.0.1" || a.State != "idle" || a.Kind != "nodejs:20" || a.MemoryMB != 128 || a.LastUsed.IsZero() {
		t.Errorf("first = %+v, want the idle /guest/a", a)
	}
	if c := got[1]; c.Action != "/shared/pkg/c" || c.State != "starting" || c.Active != 1 {
		t.Errorf("second = %+v, want /shared/pkg/c starting with one activation", c)
	}
	busy.MarkInitialized()
	if c := p.Containers("guest")[1]; c.State != "busy" {
		t.Errorf("after /init: %+v, want busy", c)
	}
	if got := p.Containers("nobody"); len(got) != 0 {
		t.Errorf("containers of nobody = %+v", got)
	}
}

// TestPoolViewAsksTheInvoker checks that a running invoker tells a
// namespace's warm containers over NATS, and only that namespace's.
func TestPoolViewAsksTheInvoker(t *testing.T) {
	s := newStack(t, stackOptions{})
	a := s.put(t, action{ns: "guest", name: "hello", code: helloCode})
	s.invoke(t, "guest", a, `{}`)
	view := dispatch.NewPoolView(s.hub.Conn())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := view.Containers(ctx, "guest")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Action != "/guest/hello" || got[0].State == "starting" {
		t.Errorf("containers of guest = %+v, want the warm /guest/hello", got)
	}
	if got, err := view.Containers(ctx, "other"); err != nil || len(got) != 0 {
		t.Errorf("containers of other = %+v, %v; want none", got, err)
	}
}
