package engine_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
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
	got := subscribeOutcomes(t, h)

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

// TestOutcomesFollowCompletions: with FollowCompletions, each activated
// rule without a delivery policy is followed by a Followup with its
// record's status and error, after its outcome, whether its completion
// came before the outcome or after; a rule with a policy, whose engine
// reports it, and the completions of other activations are not followed.
func TestOutcomesFollowCompletions(t *testing.T) {
	h, _, _ := testStores(t)
	nc := h.Conn()
	got := make(chan []byte, 10)
	stop, err := rules.NewOutcomes(nc).FollowCompletions("test.done.").Subscribe("guest", "t", func(b []byte) { got <- b })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	publish := func(subject, body string) {
		t.Helper()
		if err := nc.Publish(subject, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	// a's completion comes before the outcome, b's after; c has a policy.
	publish("test.done.a", `{"response":{"status":"success","statusCode":0,"result":{"ok":true}}}`)
	publish("test.done.other", `{"response":{"status":"success","statusCode":0}}`)
	out := rules.Outcome{Trigger: "guest/t", TriggerActivationID: "tid", Rules: []rules.Verdict{
		{Rule: "guest/ra", Action: "guest/x", Outcome: rules.OutcomeActivated, ActivationID: "a"},
		{Rule: "guest/rb", Action: "guest/x", Outcome: rules.OutcomeActivated, ActivationID: "b"},
		{Rule: "guest/rc", Action: "guest/x", Outcome: rules.OutcomeActivated, ActivationID: "c", Policy: true},
	}}
	b, _ := json.Marshal(out)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // most likely a's completion is in first; either order gives the same lines
	publish(rules.OutcomeSubject("guest", "t"), string(b))
	publish("test.done.c", `{"response":{"status":"application error","statusCode":1,"result":{"error":"no"}}}`)
	publish("test.done.b", `{"response":{"status":"application error","statusCode":1,"result":{"error":"card declined"}}}`)

	next := func() []byte {
		t.Helper()
		select {
		case b := <-got:
			return b
		case <-time.After(10 * time.Second):
			t.Fatal("no line")
			return nil
		}
	}
	if line := next(); string(line) != string(b) {
		t.Fatalf("first line %s, want the outcome", line)
	}
	for _, want := range []rules.Result{
		{Rule: "guest/ra", Action: "guest/x", ActivationID: "a", TriggerActivationID: "tid", Status: "success"},
		{Rule: "guest/rb", Action: "guest/x", ActivationID: "b", TriggerActivationID: "tid", Status: "application error", Error: "card declined"},
	} {
		var f rules.Followup
		if err := json.Unmarshal(next(), &f); err != nil {
			t.Fatal(err)
		}
		if f.Result != want || f.Trigger != "guest/t" || f.Time.IsZero() {
			t.Errorf("followup %+v, want %+v of guest/t", f, want)
		}
	}
	select {
	case b := <-got:
		t.Errorf("unexpected line %s", b)
	case <-time.After(200 * time.Millisecond):
	}
}

// subscribeOutcomes gathers the outcomes of namespace guest's triggers
// until t ends.
func subscribeOutcomes(t *testing.T, h *hub.Hub) <-chan []byte {
	t.Helper()
	got := make(chan []byte, 10)
	stop, err := rules.NewOutcomes(h.Conn()).Subscribe("guest", "", func(b []byte) { got <- b })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return got
}

// TestUnheardOutcomesAreSkipped: with SkipUnheardOutcomes, an event's
// outcome is published only when its subject is heard.
func TestUnheardOutcomesAreSkipped(t *testing.T) {
	ctx := t.Context()
	h, acts, store := testStores(t, "hello")
	js := h.JetStream()
	for _, name := range []string{"heard", "unheard"} {
		tr := &rules.Trigger{Namespace: "guest", Name: name, Version: "0.0.1", Rules: map[string]rules.Link{
			"guest/r-" + name: {Action: rules.Ref{Path: "guest", Name: "hello"}, Status: rules.StatusActive},
		}}
		if _, err := store.PutTrigger(ctx, tr, 0); err != nil {
			t.Fatal(err)
		}
	}
	got := subscribeOutcomes(t, h)
	var mu sync.Mutex
	asked := map[string]int{}
	heard := func(subject string) bool {
		mu.Lock()
		asked[subject]++
		mu.Unlock()
		return subject == rules.OutcomeSubject("guest", "heard")
	}
	rec := &recorder{records: make(chan *actions.Activation, 10)}
	startEngine(t, engine.New(js, store, acts, rec, rec, nil).SkipUnheardOutcomes(heard))

	for i, trigger := range []string{"unheard", "heard", "unheard", "heard"} {
		ev := event.New()
		ev.SetID(fmt.Sprint("ev-", i))
		ev.SetSource("/feed")
		ev.SetType("com.example.tick")
		if err := hub.PublishEvent(ctx, js, "guest", trigger, ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"ev-1", "ev-3"} {
		select {
		case b := <-got:
			var o rules.Outcome
			if err := json.Unmarshal(b, &o); err != nil {
				t.Fatal(err)
			}
			if o.Event.ID != want || o.Trigger != "guest/heard" {
				t.Fatalf("outcome of %s on %s, want %s's on guest/heard", o.Event.ID, o.Trigger, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no outcome for %s", want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n := asked[rules.OutcomeSubject("guest", "unheard")]; n < 2 {
		t.Errorf("heard was asked of the unheard trigger's outcomes %d times, want once per event (2), or more when one is delivered again", n)
	}
}
