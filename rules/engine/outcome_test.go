package engine_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

// TestEngineOutcomes checks the outcome the engine publishes for each
// event: every rule with what it did, on the trigger's own subject, for
// events that leave a record and for those that leave none.
func TestEngineOutcomes(t *testing.T) {
	ctx := t.Context()
	h, acts, store := testStores(t, "hello")
	js := h.JetStream()
	ref := rules.Ref{Path: "guest", Name: "hello"}
	tr := &rules.Trigger{Namespace: "guest", Name: "t", Version: "0.0.1", Rules: map[string]rules.Link{
		"guest/r1": {Action: ref, Status: rules.StatusActive},
		"guest/r2": {Action: ref, Status: rules.StatusInactive},
		"guest/r3": {Action: ref, Status: rules.StatusActive, Filter: json.RawMessage(`{"exact":{"type":"never"}}`)},
		"guest/r4": {Action: rules.Ref{Path: "guest", Name: "gone"}, Status: rules.StatusActive},
	}}
	if _, err := store.PutTrigger(ctx, tr, 0); err != nil {
		t.Fatal(err)
	}
	quiet := &rules.Trigger{Namespace: "guest", Name: "quiet", Version: "0.0.1", Rules: map[string]rules.Link{
		"guest/q": {Action: ref, Status: rules.StatusActive, Filter: json.RawMessage(`{"exact":{"type":"never"}}`)},
	}}
	if _, err := store.PutTrigger(ctx, quiet, 0); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 10)
	stop, err := rules.NewOutcomes(h.Conn()).Subscribe("guest", "", func(b []byte) { got <- b })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	runEngine(t, h, acts, store, &recorder{records: make(chan *actions.Activation, 10)})

	for _, tc := range []struct {
		name, trigger string
		want          []rules.Verdict
	}{
		{name: "with a record", trigger: "t", want: []rules.Verdict{
			{Rule: "guest/r1", Action: "guest/hello", Outcome: rules.OutcomeActivated, ActivationID: "*"},
			{Rule: "guest/r2", Action: "guest/hello", Outcome: rules.OutcomeInactive},
			{Rule: "guest/r3", Action: "guest/hello", Outcome: rules.OutcomeFiltered},
			{Rule: "guest/r4", Action: "guest/gone", Outcome: rules.OutcomeFailed, Error: "The requested resource does not exist."},
		}},
		{name: "without a record", trigger: "quiet", want: []rules.Verdict{
			{Rule: "guest/q", Action: "guest/hello", Outcome: rules.OutcomeFiltered},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := event.New()
			ev.SetID("ev-" + tc.trigger)
			ev.SetSource("/feed")
			ev.SetType("com.example.tick")
			ev.SetSubject("s")
			if err := hub.PublishEvent(ctx, js, "guest", tc.trigger, ev, nil); err != nil {
				t.Fatal(err)
			}
			var o rules.Outcome
			select {
			case b := <-got:
				if err := json.Unmarshal(b, &o); err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no outcome")
			}
			if o.Trigger != "guest/"+tc.trigger || o.TriggerActivationID == "" || o.Time.IsZero() {
				t.Errorf("outcome = %+v", o)
			}
			if want := (rules.OutcomeEvent{ID: ev.ID(), Source: "/feed", Type: "com.example.tick", Subject: "s"}); o.Event != want {
				t.Errorf("event = %+v, want %+v", o.Event, want)
			}
			if len(o.Rules) != len(tc.want) {
				t.Fatalf("rules = %+v", o.Rules)
			}
			for i, r := range o.Rules {
				if r.ActivationID != "" && tc.want[i].ActivationID == "*" {
					r.ActivationID = "*"
				}
				if r != tc.want[i] {
					t.Errorf("rule %d = %+v, want %+v", i, r, tc.want[i])
				}
			}
		})
	}
}
