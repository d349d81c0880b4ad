package invoker_test

import (
	"context"
	"testing"

	"github.com/gusthub/gust/invoker"
)

func TestBuiltinsRegistry(t *testing.T) {
	r := invoker.NewBuiltins()
	run := func(context.Context, *invoker.Call) (any, error) { return map[string]any{}, nil }
	r.Register(invoker.Builtin{Package: "mqtt", Name: "publish", Run: run})
	r.Register(invoker.Builtin{Package: "slack", Name: "post", Run: run})
	if b, ok := r.Lookup("mqtt/publish"); !ok || b.Path() != "mqtt/publish" {
		t.Errorf("lookup: %v %v", b, ok)
	}
	if all := r.All(); len(all) != 2 || all[0].Path() != "mqtt/publish" {
		t.Errorf("all: %v", all)
	}
	for name, b := range map[string]invoker.Builtin{
		"duplicate":  {Package: "slack", Name: "post", Run: run},
		"no Run":     {Package: "x", Name: "y"},
		"bad name":   {Package: "X Y", Name: "y", Run: run},
		"no package": {Name: "y", Run: run},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			r.Register(b)
		})
	}
}
