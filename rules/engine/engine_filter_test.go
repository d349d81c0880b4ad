package engine_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
)

// recorder is the engine's Activator and RecordStore: it keeps what the
// engine queues and records.
type recorder struct {
	mu      sync.Mutex
	invoked []string // the action of each invocation
	records chan *actions.Activation
}

func (r *recorder) Activate(_ context.Context, inv *actions.Invocation, _ time.Duration) (*actions.Activation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invoked = append(r.invoked, inv.Action.Name)
	return nil, nil
}

func (r *recorder) Queue(ctx context.Context, _ *hub.Batch, inv *actions.Invocation) (func() error, error) {
	return queueNow(ctx, r, inv)
}

func (r *recorder) PutIn(_ *hub.Batch, a *actions.Activation, _ []byte) func(context.Context) error {
	return putNow(r, a)
}

func (r *recorder) Put(_ context.Context, a *actions.Activation) error {
	r.records <- a
	return nil
}

// TestEngineFilter runs the engine on a real hub: of a trigger's rules, the
// ones whose filter matches run, the others are logged as filtered out.
func TestEngineFilter(t *testing.T) {
	ctx := t.Context()
	h, acts, store := testStores(t, "pushed", "other", "any", "bad", "off")
	js := h.JetStream()
	link := func(action, status, filter string) rules.Link {
		l := rules.Link{Action: rules.Ref{Path: "guest", Name: action}, Status: status}
		if filter != "" {
			l.Filter = json.RawMessage(filter)
		}
		return l
	}
	tr := &rules.Trigger{Namespace: "guest", Name: "t", Version: "0.0.1", Rules: map[string]rules.Link{
		"guest/r1": link("pushed", rules.StatusActive, `[{"exact":{"type":"com.github.push"}},{"exact":{"data.repository.name":"gust"}}]`),
		"guest/r2": link("other", rules.StatusActive, `{"sql":"type LIKE 'com.gitlab.%'"}`),
		"guest/r3": link("any", rules.StatusActive, ""),
		// A filter the engine cannot compile (stored by an older Gust, say).
		"guest/r4": link("bad", rules.StatusActive, `{"regex":".*"}`),
		"guest/r5": link("off", rules.StatusInactive, `{"exact":{"type":"com.github.push"}}`),
	}}
	if _, err := store.PutTrigger(ctx, tr, 0); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{records: make(chan *actions.Activation, 10)}
	engineCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- engine.New(js, store, acts, rec, rec, nil).Run(engineCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})

	for _, tc := range []struct {
		name    string
		data    string
		invoked []string
		logs    []string
	}{
		{name: "push to gust", data: `{"repository":{"name":"gust"}}`, invoked: []string{"pushed", "any"}, logs: []string{
			`{"statusCode":0,"success":true,"activationId":"*","rule":"guest/r1","action":"guest/pushed"}`,
			`{"statusCode":1,"success":false,"rule":"guest/r2","action":"guest/other","error":"Rule 'guest/r2' filtered out the event, action 'guest/other' was not activated."}`,
			`{"statusCode":0,"success":true,"activationId":"*","rule":"guest/r3","action":"guest/any"}`,
			`{"statusCode":1,"success":false,"rule":"guest/r4","action":"guest/bad","error":"Rule 'guest/r4' has an invalid filter: unknown dialect 'regex' (want exact, prefix, suffix, all, any, not or sql), action 'guest/bad' was not activated."}`,
			`{"statusCode":1,"success":false,"rule":"guest/r5","action":"guest/off","error":"Rule 'guest/r5' is inactive, action 'guest/off' was not activated."}`,
		}},
		{name: "push to another repository", data: `{"repository":{"name":"other"}}`, invoked: []string{"any"}, logs: []string{
			`{"statusCode":1,"success":false,"rule":"guest/r1","action":"guest/pushed","error":"Rule 'guest/r1' filtered out the event, action 'guest/pushed' was not activated."}`,
			`{"statusCode":1,"success":false,"rule":"guest/r2","action":"guest/other","error":"Rule 'guest/r2' filtered out the event, action 'guest/other' was not activated."}`,
			`{"statusCode":0,"success":true,"activationId":"*","rule":"guest/r3","action":"guest/any"}`,
			`{"statusCode":1,"success":false,"rule":"guest/r4","action":"guest/bad","error":"Rule 'guest/r4' has an invalid filter: unknown dialect 'regex' (want exact, prefix, suffix, all, any, not or sql), action 'guest/bad' was not activated."}`,
			`{"statusCode":1,"success":false,"rule":"guest/r5","action":"guest/off","error":"Rule 'guest/r5' is inactive, action 'guest/off' was not activated."}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.invoked = nil
			rec.mu.Unlock()
			ev := event.New()
			ev.SetID(tc.name)
			ev.SetSource("/repos/gusthub/gust")
			ev.SetType("com.github.push")
			ev.SetDataContentType("application/json")
			ev.DataEncoded = []byte(tc.data)
			id := actions.NewActivationID()
			if err := hub.PublishEvent(ctx, js, "guest", "t", ev, map[string]string{hub.HeaderActivationID: id}); err != nil {
				t.Fatal(err)
			}
			var a *actions.Activation
			select {
			case a = <-rec.records:
			case <-time.After(10 * time.Second):
				t.Fatal("no trigger record")
			}
			if a.ActivationID != id {
				t.Errorf("record id = %s, want %s", a.ActivationID, id)
			}
			if len(a.Logs) != len(tc.logs) {
				t.Fatalf("logs = %q", a.Logs)
			}
			for i, line := range a.Logs {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatal(err)
				}
				if _, ok := m["activationId"]; ok {
					m["activationId"] = "*"
				}
				got, _ := json.Marshal(m)
				var want map[string]any
				if err := json.Unmarshal([]byte(tc.logs[i]), &want); err != nil {
					t.Fatal(err)
				}
				wantB, _ := json.Marshal(want)
				if string(got) != string(wantB) {
					t.Errorf("log %d\n got %s\nwant %s", i, got, wantB)
				}
			}
			rec.mu.Lock()
			got := append([]string(nil), rec.invoked...)
			rec.mu.Unlock()
			sort.Strings(got)
			want := append([]string(nil), tc.invoked...)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("invoked %v, want %v", got, want)
			}
		})
	}

	// A feed event (no API activation id) that every active rule filters
	// out leaves no record, as a fire that activates nothing.
	tr2 := &rules.Trigger{Namespace: "guest", Name: "quiet", Version: "0.0.1", Rules: map[string]rules.Link{
		"guest/q": link("pushed", rules.StatusActive, `{"exact":{"type":"never"}}`),
	}}
	if _, err := store.PutTrigger(ctx, tr2, 0); err != nil {
		t.Fatal(err)
	}
	ev := event.New()
	ev.SetID("feed-1")
	ev.SetSource("/feed")
	ev.SetType("com.example")
	if err := hub.PublishEvent(ctx, js, "guest", "quiet", ev, nil); err != nil {
		t.Fatal(err)
	}
	// Then an event that matches, whose record must be the next one.
	ev.SetID("feed-2")
	ev.SetType("never")
	if err := hub.PublishEvent(ctx, js, "guest", "quiet", ev, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-rec.records:
		if a.Name != "quiet" || len(a.Logs) != 1 || a.ActivationID == "" {
			t.Errorf("record = %+v", a)
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(a.Logs[0]), &m)
		if m["success"] != true {
			t.Errorf("filtered-out feed event recorded: %s", a.Logs[0])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no trigger record")
	}

	// A fire through the API was answered 202 with its activation id
	// before any filter ran: even when every active rule filters its event
	// out, the record exists and says which rules did.
	ev.SetID("api-1")
	ev.SetType("com.example")
	id := actions.NewActivationID()
	if err := hub.PublishEvent(ctx, js, "guest", "quiet", ev, map[string]string{hub.HeaderActivationID: id}); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-rec.records:
		want := `{"statusCode":1,"success":false,"rule":"guest/q","action":"guest/pushed","error":"Rule 'guest/q' filtered out the event, action 'guest/pushed' was not activated."}`
		if a.ActivationID != id || len(a.Logs) != 1 || a.Logs[0] != want {
			t.Errorf("record %s, logs %q; want %s with %s", a.ActivationID, a.Logs, id, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no trigger record for a filtered-out fire")
	}
}
