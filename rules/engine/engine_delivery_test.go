package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
)

// scripted is an Activator whose activations end with the status codes
// scripted per action, in order (success once the script runs out), and a
// RecordStore that can fail a trigger record once.
type scripted struct {
	mu       sync.Mutex
	script   map[string][]int    // action name → status of each attempt
	attempts map[string][]string // action name → activation id of each attempt
	keys     map[string][]string // action name → API key of each attempt
	waits    map[string][]time.Duration
	records  chan *actions.Activation
	failPut  map[string]bool // trigger activation ids whose first Put fails
	delays   []time.Duration // the engine's sleeps
	sleeping chan struct{}   // when not nil, each sleep waits for a receive on it
}

func newScripted() *scripted {
	return &scripted{script: map[string][]int{}, attempts: map[string][]string{}, keys: map[string][]string{}, waits: map[string][]time.Duration{},
		records: make(chan *actions.Activation, 100), failPut: map[string]bool{}}
}

func (s *scripted) Activate(_ context.Context, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := inv.Action.Name
	s.attempts[name] = append(s.attempts[name], inv.ActivationID)
	s.keys[name] = append(s.keys[name], inv.APIKey)
	s.waits[name] = append(s.waits[name], wait)
	if wait <= 0 {
		return nil, nil
	}
	code := actions.StatusSuccess
	if n := len(s.attempts[name]); n <= len(s.script[name]) {
		code = s.script[name][n-1]
	}
	result := fmt.Sprintf(`{"error":"attempt %d failed"}`, len(s.attempts[name]))
	if code == actions.StatusSuccess {
		result = `{"ok":true}`
	}
	return &actions.Activation{ActivationID: inv.ActivationID, Response: actions.Response{StatusCode: code, Result: json.RawMessage(result)}}, nil
}

func (s *scripted) Queue(ctx context.Context, _ *hub.Batch, inv *actions.Invocation) (func() error, error) {
	return queueNow(ctx, s, inv)
}

func (s *scripted) PutIn(_ *hub.Batch, a *actions.Activation, _ []byte) func(context.Context) error {
	return putNow(s, a)
}

func (s *scripted) Put(_ context.Context, a *actions.Activation) error {
	s.mu.Lock()
	fail := s.failPut[a.ActivationID]
	delete(s.failPut, a.ActivationID)
	s.mu.Unlock()
	if fail {
		return errors.New("record store down")
	}
	s.records <- a
	return nil
}

func (s *scripted) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	ch := s.sleeping
	s.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *scripted) attemptsOf(action string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts[action])
}

func (s *scripted) keysOf(action string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keys[action])
}

// fireKey is the API key the events of TestEngineDelivery were fired with.
const fireKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:fired-with-this-key"

// TestEngineDelivery runs the engine on a real hub with a scripted
// activator: rules with a delivery policy retry developer and internal
// errors with growing delays, stop on success or an application error,
// and put a dead letter on their dead-letter trigger when every attempt
// failed; events over the hop limit run nothing.
func TestEngineDelivery(t *testing.T) {
	ctx := t.Context()
	h, acts, store := testStores(t)
	js := h.JetStream()
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		t.Fatal(err)
	}
	dead, err := h.Conn().SubscribeSync(hub.EventSubject("guest", "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutTrigger(ctx, &rules.Trigger{Namespace: "guest", Name: "dlq", Version: "0.0.1"}, 0); err != nil {
		t.Fatal(err)
	}
	// One trigger and one action per case, each with its own rule.
	policy := &rules.Delivery{Retries: 3, Backoff: "100ms", DeadLetter: "/guest/dlq"}
	for _, name := range []string{"exhausted", "recovers", "answers", "redelivered", "plain", "looping"} {
		a := &actions.Action{Namespace: "guest", Name: name, Version: "0.0.1", Limits: actions.Limits{Timeout: 1000},
			Exec: actions.Exec{Kind: "nodejs:20", Code: "function main(p) { return p }"}}
		if _, err := acts.PutAction(ctx, a, 0); err != nil {
			t.Fatal(err)
		}
		l := rules.Link{Action: rules.Ref{Path: "guest", Name: name}, Status: rules.StatusActive}
		if name != "plain" && name != "looping" {
			l.Delivery = policy
		}
		tr := &rules.Trigger{Namespace: "guest", Name: name, Version: "0.0.1", Rules: map[string]rules.Link{"guest/r-" + name: l}}
		if _, err := store.PutTrigger(ctx, tr, 0); err != nil {
			t.Fatal(err)
		}
	}
	s := newScripted()
	s.script["exhausted"] = []int{2, 3, 2, 2}
	s.script["recovers"] = []int{3, 2, 0}
	s.script["answers"] = []int{1}
	s.script["redelivered"] = []int{2, 0}
	eng := engine.New(js, store, acts, s, s, nil)
	eng.SetSleep(s.sleep)
	engineCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(engineCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})

	fire := func(t *testing.T, trigger, id string, hops string) string {
		t.Helper()
		ev := event.New()
		ev.SetID(id)
		ev.SetSource("/repos/gusthub/gust")
		ev.SetType("com.github.push")
		if hops != "" {
			ev.SetExtension(hub.HopsExtension, hops)
		}
		ev.SetDataContentType("application/json")
		ev.DataEncoded = []byte(`{"ref":"main"}`)
		aid := actions.NewActivationID()
		if err := hub.PublishEvent(ctx, js, "guest", trigger, ev, map[string]string{hub.HeaderActivationID: aid, hub.HeaderAPIKey: fireKey}); err != nil {
			t.Fatal(err)
		}
		return aid
	}
	// settle waits until action has been activated n times and no
	// delivery runs any more.
	settle := func(t *testing.T, action string, n int) []string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for len(s.attemptsOf(action)) < n || eng.RunningDeliveries() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: attempts %d, want %d; running %d", action, len(s.attemptsOf(action)), n, eng.RunningDeliveries())
			}
			time.Sleep(5 * time.Millisecond)
		}
		got := s.attemptsOf(action)
		if len(got) != n {
			t.Fatalf("%s: %d attempts, want %d", action, len(got), n)
		}
		return got
	}
	noDeadLetter := func(t *testing.T) {
		t.Helper()
		if m, err := dead.NextMsg(100 * time.Millisecond); err == nil {
			t.Errorf("unexpected dead letter %s", m.Data)
		}
	}
	drainRecords := func() {
		for {
			select {
			case <-s.records:
			default:
				return
			}
		}
	}
	resetDelays := func() {
		s.mu.Lock()
		s.delays = nil
		s.mu.Unlock()
	}
	delays := func() []time.Duration {
		s.mu.Lock()
		defer s.mu.Unlock()
		return slices.Clone(s.delays)
	}

	t.Run("retries with growing delays, then a dead letter", func(t *testing.T) {
		resetDelays()
		tid := fire(t, "exhausted", "ev-exhausted", "3")
		ids := settle(t, "exhausted", 4)
		for i, id := range ids {
			if want := engine.AttemptID(tid, "guest/r-exhausted", i+1); id != want {
				t.Errorf("attempt %d id %s, want %s", i+1, id, want)
			}
		}
		if got, want := delays(), []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}; !slices.Equal(got, want) {
			t.Errorf("delays %v, want %v", got, want)
		}
		s.mu.Lock()
		wait := s.waits["exhausted"][0]
		s.mu.Unlock()
		if wait != 32*time.Second {
			t.Errorf("wait %v, want the action's limits twice plus 30s", wait)
		}
		m, err := dead.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no dead letter: %v", err)
		}
		checkDeadLetter(t, m, ids[3])
		noDeadLetter(t)
		// Every attempt, and the dead letter's rules, act with the key
		// the event was fired with.
		if got := s.keysOf("exhausted"); !slices.Equal(got, []string{fireKey, fireKey, fireKey, fireKey}) {
			t.Errorf("attempts' API keys %q, want the fire's", got)
		}
		if got := m.Header.Get(hub.HeaderAPIKey); got != fireKey {
			t.Errorf("dead letter's API key %q, want the fire's", got)
		}
	})
	t.Run("stops on success", func(t *testing.T) {
		resetDelays()
		settle(t, "recovers", 0)
		fire(t, "recovers", "ev-recovers", "")
		settle(t, "recovers", 3)
		if got := delays(); len(got) != 2 {
			t.Errorf("delays %v", got)
		}
		noDeadLetter(t)
	})
	t.Run("no retry on an application error", func(t *testing.T) {
		fire(t, "answers", "ev-answers", "")
		settle(t, "answers", 1)
		noDeadLetter(t)
	})
	t.Run("a redelivered event does not run a delivery twice", func(t *testing.T) {
		// The first trigger record fails, so the event is handed back and
		// redelivered while the delivery waits to retry.
		drainRecords()
		s.mu.Lock()
		s.sleeping = make(chan struct{})
		s.mu.Unlock()
		tid := actions.NewActivationID()
		s.mu.Lock()
		s.failPut[tid] = true
		s.mu.Unlock()
		ev := event.New()
		ev.SetID("ev-redelivered")
		ev.SetSource("/repos/gusthub/gust")
		ev.SetType("com.github.push")
		if err := hub.PublishEvent(ctx, js, "guest", "redelivered", ev, map[string]string{hub.HeaderActivationID: tid}); err != nil {
			t.Fatal(err)
		}
		select {
		case a := <-s.records: // the redelivery's record
			if a.ActivationID != tid {
				t.Fatalf("record %s, want %s", a.ActivationID, tid)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("event not redelivered")
		}
		s.mu.Lock()
		ch := s.sleeping
		s.sleeping = nil
		s.mu.Unlock()
		ch <- struct{}{} // let the retry go
		ids := settle(t, "redelivered", 2)
		if ids[0] == ids[1] || ids[0] != engine.AttemptID(tid, "guest/r-redelivered", 1) {
			t.Errorf("attempts %v", ids)
		}
		if got := s.keysOf("redelivered"); !slices.Equal(got, []string{"", ""}) {
			t.Errorf("an event stored without a key gave its actions the keys %q", got)
		}
		noDeadLetter(t)
	})
	t.Run("hop limit", func(t *testing.T) {
		drainRecords()
		for _, tc := range []struct {
			hops    string
			invoked int
		}{{"10", 1}, {"11", 1}} { // invocations so far
			tid := fire(t, "looping", "ev-hops-"+tc.hops, tc.hops)
			var a *actions.Activation
			select {
			case a = <-s.records:
			case <-time.After(10 * time.Second):
				t.Fatal("no trigger record")
			}
			if a.ActivationID != tid || len(a.Logs) != 1 {
				t.Fatalf("record %+v", a)
			}
			if got := len(s.attemptsOf("looping")); got != tc.invoked {
				t.Errorf("gusthops=%s: %d invocations, want %d", tc.hops, got, tc.invoked)
			}
			if tc.hops == "11" {
				want := `{"statusCode":1,"success":false,"rule":"guest/r-looping","action":"guest/looping","error":"Event exceeded the hop limit of 10 (gusthops=11): a rule's action probably fires the trigger that invoked it. Rule 'guest/r-looping' did not activate action 'guest/looping'."}`
				if a.Logs[0] != want {
					t.Errorf("log\n got %s\nwant %s", a.Logs[0], want)
				}
			}
		}
	})
}

// checkDeadLetter checks the dead letter of the "exhausted" case.
func checkDeadLetter(t *testing.T, m *nats.Msg, lastID string) {
	t.Helper()
	ev, err := hub.DecodeEvent(m.Header, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type() != rules.DeadLetterType || ev.Source() != "/namespaces/guest/rules/r-exhausted" || ev.Subject() != lastID {
		t.Errorf("dead letter attributes: %s", ev)
	}
	if hops, _ := hub.Hops(ev); hops != 4 {
		t.Errorf("dead letter gusthops %d, want 4", hops)
	}
	var got rules.DeadLetter
	if err := json.Unmarshal(ev.Data(), &got); err != nil {
		t.Fatal(err)
	}
	var original map[string]any
	if err := json.Unmarshal(got.Event, &original); err != nil {
		t.Fatal(err)
	}
	if original["id"] != "ev-exhausted" || original["type"] != "com.github.push" || original["gusthops"] != "3" ||
		fmt.Sprint(original["data"]) != "map[ref:main]" {
		t.Errorf("dead letter event %s", got.Event)
	}
	got.Event = nil
	want := rules.DeadLetter{Rule: "guest/r-exhausted", Action: "guest/exhausted", ActivationID: lastID, Attempts: 4,
		StatusCode: actions.StatusDeveloperError, Error: "attempt 4 failed"}
	if !strings.EqualFold(fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want)) {
		t.Errorf("dead letter\n got %+v\nwant %+v", got, want)
	}
}
