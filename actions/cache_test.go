package actions_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

func putAction(t *testing.T, s *actions.Store, name, code string) {
	t.Helper()
	ctx := context.Background()
	n := actions.Name{Namespace: "guest", Name: name}
	a := &actions.Action{Namespace: "guest", Name: name, Version: actions.InitialVersion,
		Exec: actions.Exec{Kind: "nodejs:20", Code: code}, Limits: actions.DefaultLimits()}
	var rev uint64
	if old, r, err := s.GetAction(ctx, n, false); err == nil {
		a.Version, rev = actions.BumpVersion(old.Version), r
	}
	if _, err := s.PutAction(ctx, a, rev); err != nil {
		t.Fatal(err)
	}
}

// A cache sees its store's writes at once, and another process's writes:
// new entities at once, changes soon.
func TestCacheSeesWrites(t *testing.T) {
	ctx := t.Context()
	h := hubtest.Start(t)
	s, err := actions.OpenStore(ctx, h.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	other, err := actions.OpenStore(ctx, h.JetStream()) // another process's
	if err != nil {
		t.Fatal(err)
	}
	c := actions.NewCache(ctx, s, nil)
	n := actions.Name{Namespace: "guest", Name: "a"}
	version := func(t *testing.T) string {
		t.Helper()
		a, _, err := c.GetAction(ctx, n, false)
		if err != nil {
			t.Fatal(err)
		}
		if a.Exec.Code != "" {
			t.Error("action read without code has code")
		}
		return a.Version
	}

	for i, want := range []string{"0.0.1", "0.0.2", "0.0.3"} {
		putAction(t, s, "a", "function main() { return {}; } // "+want)
		if got := version(t); got != want {
			t.Errorf("read %d right after the write: version %s, want %s", i, got, want)
		}
	}
	if a, _, err := c.GetAction(ctx, n, true); err != nil || a.Exec.Code == "" {
		t.Errorf("with code: %v %v", a, err)
	}
	if err := s.DeleteAction(ctx, n, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetAction(ctx, n, false); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("right after the delete: %v, want not found", err)
	}

	putAction(t, other, "b", "function main() { return {}; }")
	if _, _, err := c.GetAction(ctx, actions.Name{Namespace: "guest", Name: "b"}, false); err != nil {
		t.Errorf("another process's new action: %v", err)
	}
	putAction(t, other, "b", "function main() { return {b: 2}; }")
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, _, err := c.GetAction(ctx, actions.Name{Namespace: "guest", Name: "b"}, false)
		if err == nil && a.Version == "0.0.2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("another process's update not seen in 5 s: %v %v", a, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	pn := actions.Name{Namespace: "guest", Name: "p"}
	for _, publish := range []bool{false, true} {
		var rev uint64
		if _, r, err := s.GetPackage(ctx, pn); err == nil {
			rev = r
		}
		if _, err := s.PutPackage(ctx, &actions.Package{Namespace: "guest", Name: "p", Version: actions.InitialVersion, Publish: publish}, rev); err != nil {
			t.Fatal(err)
		}
		if p, _, err := c.GetPackage(ctx, pn); err != nil || p.Publish != publish {
			t.Errorf("package right after the write: %+v %v, want publish %t", p, err, publish)
		}
	}
	if err := s.DeletePackage(ctx, pn, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetPackage(ctx, pn); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("package right after the delete: %v, want not found", err)
	}
}
