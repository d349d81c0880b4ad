package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
)

// testStores starts an embedded hub for t, opens the action and rule
// stores on it, and puts a nodejs action of namespace guest for each name.
func testStores(t testing.TB, names ...string) (*hub.Hub, *actions.Store, *rules.Store) {
	t.Helper()
	return testStoresOn(t, hubtest.Start(t), names...)
}

// testStoresOn is testStores on hub h.
func testStoresOn(t testing.TB, h *hub.Hub, names ...string) (*hub.Hub, *actions.Store, *rules.Store) {
	t.Helper()
	ctx := t.Context()
	acts, err := actions.OpenStore(ctx, h.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	store, err := rules.OpenStore(ctx, h.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		a := &actions.Action{Namespace: "guest", Name: name, Version: "0.0.1", Exec: actions.Exec{Kind: "nodejs:20", Code: "function main(p) { return p }"}}
		if _, err := acts.PutAction(ctx, a, 0); err != nil {
			t.Fatal(err)
		}
	}
	return h, acts, store
}

// queueNow is the Queue of a test's Activator that runs what it is given
// at once: a's Activate without waiting. The batch has nothing to store.
func queueNow(ctx context.Context, a interface {
	Activate(context.Context, *actions.Invocation, time.Duration) (*actions.Activation, error)
}, inv *actions.Invocation) (func() error, error) {
	_, err := a.Activate(ctx, inv, 0)
	return func() error { return nil }, err
}

// putNow is the PutIn of a test's RecordStore that stores at once: r's
// Put. The batch has nothing to store.
func putNow(r interface {
	Put(context.Context, *actions.Activation) error
}, a *actions.Activation) func(context.Context) error {
	err := r.Put(context.Background(), a)
	return func(context.Context) error { return err }
}

// runEngine runs an engine on h's stores, with rec as its activator and
// record store, until t ends.
func runEngine(t *testing.T, h *hub.Hub, acts *actions.Store, store *rules.Store, rec *recorder) {
	t.Helper()
	startEngine(t, engine.New(h.JetStream(), store, acts, rec, rec, nil))
}

// startEngine runs e until t ends.
func startEngine(t *testing.T, e *engine.Engine) {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})
}
