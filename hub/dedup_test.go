package hub_test

import (
	"testing"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// TestClaimIn: claims stored together in one batch answer as Claim does,
// one by one: a new event is the claimer's, an event claimed before is
// its first owner's only, and of two claims of one event in the same
// batch exactly one wins.
func TestClaimIn(t *testing.T) {
	ctx := t.Context()
	h := hubtest.Start(t)
	ids, err := hub.OpenEventIDs(ctx, h.JetStream(), 0)
	if err != nil {
		t.Fatal(err)
	}
	old := hub.EventKey("guest", "t", "/src", "old")
	if mine, err := ids.Claim(ctx, old, "first", hub.DefaultDedupWindow); err != nil || !mine {
		t.Fatalf("Claim of a new event = %v, %v", mine, err)
	}
	b := hub.NewBatch(h.JetStream())
	fresh := ids.ClaimIn(b, hub.EventKey("guest", "t", "/src", "new"), "a", hub.DefaultDedupWindow)
	again := ids.ClaimIn(b, old, "first", hub.DefaultDedupWindow)
	dup := ids.ClaimIn(b, old, "second", hub.DefaultDedupWindow)
	twin := hub.EventKey("guest", "t", "/src", "twin")
	x, y := ids.ClaimIn(b, twin, "x", hub.DefaultDedupWindow), ids.ClaimIn(b, twin, "y", hub.DefaultDedupWindow)
	_ = b.Wait(ctx) // the claims that lost fail; their Result says why
	for _, c := range []struct {
		name string
		c    *hub.Claiming
		want bool
	}{{"a new event", fresh, true}, {"its owner's event again", again, true}, {"another's event", dup, false}} {
		if mine, err := c.c.Result(ctx); err != nil || mine != c.want {
			t.Errorf("%s: Result = %v, %v; want %v", c.name, mine, err, c.want)
		}
	}
	mx, errX := x.Result(ctx)
	my, errY := y.Result(ctx)
	if errX != nil || errY != nil || mx == my {
		t.Fatalf("two claims of one event in a batch: %v (%v) and %v (%v); want exactly one", mx, errX, my, errY)
	}
	if owner, ok, err := ids.Owner(ctx, twin); err != nil || !ok || (owner == "x") != mx {
		t.Fatalf("owner of the twin event = %q, %v, %v; want the winner", owner, ok, err)
	}
}
