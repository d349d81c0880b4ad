package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
)

// TestEngineSeesChangesAtOnce: the engine keeps triggers and actions in
// memory, and an event fired right after a change (a rule disabled or
// enabled, its action deleted, a trigger created) is processed with it.
// With ShareMirrors the engine reads actions and packages through an
// actions.Cache's mirrors, and watches neither bucket itself.
func TestEngineSeesChangesAtOnce(t *testing.T) {
	t.Run("own mirrors", func(t *testing.T) { testEngineSeesChangesAtOnce(t, false) })
	t.Run("a cache's mirrors", func(t *testing.T) { testEngineSeesChangesAtOnce(t, true) })
}

func testEngineSeesChangesAtOnce(t *testing.T, share bool) {
	ctx := t.Context()
	h, acts, store := testStores(t, "a")
	js := h.JetStream()
	rec := &recorder{records: make(chan *actions.Activation, 10)}
	if share {
		cctx, stop := context.WithCancel(ctx)
		t.Cleanup(stop)
		startEngine(t, engine.New(js, store, acts, rec, rec, nil).ShareMirrors(actions.NewCache(cctx, acts, nil)))
	} else {
		runEngine(t, h, acts, store, rec)
	}

	n := 0
	// fire puts an event on trigger t and returns its trigger record's
	// log line for rule guest/r.
	fire := func(t *testing.T, trigger string) string {
		t.Helper()
		n++
		ev := event.New()
		ev.SetID(fmt.Sprint("e", n))
		ev.SetSource("/test")
		ev.SetType("dev.gust.test")
		if err := hub.PublishEvent(ctx, js, "guest", trigger, ev, map[string]string{hub.HeaderActivationID: actions.NewActivationID()}); err != nil {
			t.Fatal(err)
		}
		select {
		case a := <-rec.records:
			if len(a.Logs) != 1 {
				t.Fatalf("logs %q, want one line", a.Logs)
			}
			return a.Logs[0]
		case <-time.After(10 * time.Second):
			t.Fatal("no trigger record")
		}
		return ""
	}
	var rev uint64
	put := func(t *testing.T, trigger, status string) {
		t.Helper()
		tr := &rules.Trigger{Namespace: "guest", Name: trigger, Version: "0.0.1", Rules: map[string]rules.Link{
			"guest/r": {Action: rules.Ref{Path: "guest", Name: "a"}, Status: status},
		}}
		var err error
		if rev, err = store.PutTrigger(ctx, tr, rev); err != nil {
			t.Fatal(err)
		}
	}

	put(t, "t", rules.StatusActive)
	fire(t, "t") // the engine follows the buckets by now
	for _, bucket := range []string{"KV_gust_actions", "KV_gust_packages"} {
		st, err := js.Stream(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		if n := st.CachedInfo().State.Consumers; n != 1 {
			t.Errorf("%s has %d consumers, want 1 watch", bucket, n)
		}
	}
	for i := range 20 {
		status := []string{rules.StatusInactive, rules.StatusActive}[i%2]
		put(t, "t", status)
		line := fire(t, "t")
		if active := strings.Contains(line, `"success":true`); active != (status == rules.StatusActive) {
			t.Fatalf("change %d: rule %s, but the event got %s", i, status, line)
		}
	}
	if err := acts.DeleteAction(ctx, actions.Name{Namespace: "guest", Name: "a"}, 0); err != nil {
		t.Fatal(err)
	}
	if line := fire(t, "t"); !strings.Contains(line, "does not exist") {
		t.Errorf("after the action's deletion the event got %s", line)
	}
	rev = 0
	put(t, "new", rules.StatusInactive)
	if line := fire(t, "new"); !strings.Contains(line, "is inactive") {
		t.Errorf("a trigger created just before its event got %s", line)
	}
}
