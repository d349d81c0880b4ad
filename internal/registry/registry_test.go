package registry_test

import (
	"slices"
	"testing"

	"github.com/gusthub/gust/internal/registry"
)

func TestRegistry(t *testing.T) {
	r := registry.New[int]()
	for _, add := range []struct {
		path string
		v    int
		want bool
	}{{"b/x", 1, true}, {"a/y", 2, true}, {"b/x", 3, false}} {
		if got := r.Add(add.path, add.v); got != add.want {
			t.Errorf("Add(%q) = %v, want %v", add.path, got, add.want)
		}
	}
	if v, ok := r.Lookup("b/x"); !ok || v != 1 {
		t.Errorf("Lookup(b/x) = %d, %v: a taken path must keep the first value", v, ok)
	}
	if _, ok := r.Lookup("c/z"); ok {
		t.Error("Lookup of an unregistered path found something")
	}
	if got := r.All(); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("All = %v, want [2 1] (path order)", got)
	}
}

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{"alarms": true, "a-b_2": true, "": false, "Alarms": false, "2a": false, "a/b": false, "-a": false} {
		if got := registry.ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}
