package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/gusthub/gust/hub"
)

// outcomesPrefix starts the subjects of outcomes. No stream captures them:
// outcomes live on core NATS only.
const outcomesPrefix = "gust.outcomes"

// OutcomeSubject is the core NATS subject on which the engine publishes the
// outcomes of the events of trigger t in namespace ns.
func OutcomeSubject(ns, t string) string { return outcomesPrefix + "." + hub.Key(ns, t) }

// What became of a rule for one event: the values of Verdict.Outcome.
const (
	OutcomeActivated = "activated" // the rule's action was queued
	OutcomeInactive  = "inactive"  // the rule is disabled
	OutcomeFiltered  = "filtered"  // the rule's filter did not match the event
	OutcomeFailed    = "failed"    // the rule could not run: a bad filter, a missing action
)

// Outcome is what became of one trigger event: for each rule of the
// trigger, whether it activated its action. The engine publishes it as JSON
// on OutcomeSubject once the event is processed (and its record, if any,
// stored); it is not kept, so only current subscribers see it, and an event
// the engine processes again is published again.
type Outcome struct {
	// Trigger is "ns/name".
	Trigger string `json:"trigger"`
	// Time is when the engine processed the event.
	Time  time.Time    `json:"time"`
	Event OutcomeEvent `json:"event"`
	// TriggerActivationID is the trigger activation's id. The activation
	// is recorded unless no rule was active and the event did not come
	// through the API. A fire through the API that finds no active rule
	// is not put on the event stream at all (OpenWhisk's 204): its outcome,
	// every rule inactive, has no id.
	TriggerActivationID string    `json:"triggerActivationId,omitempty"`
	Rules               []Verdict `json:"rules"`
}

// OutcomeEvent is the CloudEvents attributes of an Outcome's event.
type OutcomeEvent struct {
	ID              string `json:"id"`
	Source          string `json:"source"`
	Type            string `json:"type"`
	Subject         string `json:"subject,omitempty"`
	DataContentType string `json:"datacontenttype,omitempty"`
}

// OutcomeEventOf is the OutcomeEvent of ev.
func OutcomeEventOf(ev event.Event) OutcomeEvent {
	return OutcomeEvent{ID: ev.ID(), Source: ev.Source(), Type: ev.Type(), Subject: ev.Subject(), DataContentType: ev.DataContentType()}
}

// Verdict is what one rule did with an event.
type Verdict struct {
	// Rule and Action are "ns/name".
	Rule   string `json:"rule"`
	Action string `json:"action"`
	// Outcome is one of OutcomeActivated, OutcomeInactive, OutcomeFiltered
	// and OutcomeFailed.
	Outcome string `json:"outcome"`
	// ActivationID is the action's activation, when activated.
	ActivationID string `json:"activationId,omitempty"`
	// Error says why a rule failed.
	Error string `json:"error,omitempty"`
	// Policy is set when the rule has a delivery policy: the engine then
	// publishes a Followup for each attempt itself.
	Policy bool `json:"policy,omitempty"`
}

// Followup is a line of an event stream that follows an Outcome: what
// became of one activation of one of its rules. The engine publishes one
// for each attempt of a rule with a delivery policy; Outcomes.Subscribe
// makes those of the other activated rules from their completions. Its
// JSON starts with "result", so a reader tells it from an Outcome.
type Followup struct {
	Result Result `json:"result"`
	// Trigger is "ns/name".
	Trigger string    `json:"trigger"`
	Time    time.Time `json:"time"`
}

// Result is how one activation of a rule ended.
type Result struct {
	// Rule and Action are "ns/name".
	Rule                string `json:"rule"`
	Action              string `json:"action"`
	ActivationID        string `json:"activationId"`
	TriggerActivationID string `json:"triggerActivationId"`
	// Attempt counts the attempts of a rule with a delivery policy, from 1;
	// it is 0 for other rules.
	Attempt int `json:"attempt,omitempty"`
	// Status is the record's status ("success", "application error",
	// "action developer error", "whisk internal error"), or "" when it is
	// not known: the record was too large to announce, or none came in time.
	Status string `json:"status"`
	// Error is the activation's error, when it failed.
	Error string `json:"error,omitempty"`
	// Retry is the activation id of the next attempt when this failed one
	// is tried again, RetryIn milliseconds from now.
	Retry   string `json:"retry,omitempty"`
	RetryIn int64  `json:"retryIn,omitempty"`
	// DeadLetter is the trigger ("ns/name") that got the dead letter after
	// this last attempt failed.
	DeadLetter string `json:"deadLetter,omitempty"`
}

// PublishFollowup publishes f on the outcome subject of trigger t of
// namespace ns, for those who watch it.
func PublishFollowup(nc *nats.Conn, ns, t string, f *Followup) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return nc.Publish(OutcomeSubject(ns, t), b)
}

// Outcomes subscribes to the outcomes the engine publishes, and publishes
// those of the fires that never reach the engine.
type Outcomes struct {
	nc *nats.Conn
	// done is the prefix of the subjects on which finished activations
	// are announced (FollowCompletions), or "".
	done string
}

// Unrouted publishes the outcome of ev, fired on trigger t of namespace ns
// through the API when no rule of t was active: the fire is answered 204
// and its event is not stored, so the engine never sees it, but those who
// watch the trigger's events learn why nothing ran.
func (o *Outcomes) Unrouted(ns string, t *Trigger, ev event.Event) error {
	out := Outcome{
		Trigger: ns + "/" + t.Name, Time: time.Now().UTC(),
		Event: OutcomeEventOf(ev),
		Rules: make([]Verdict, 0, len(t.Rules)),
	}
	for _, name := range slices.Sorted(maps.Keys(t.Rules)) {
		l := t.Rules[name]
		out.Rules = append(out.Rules, Verdict{Rule: name, Action: l.Action.Path + "/" + l.Action.Name, Outcome: OutcomeInactive})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return o.nc.Publish(OutcomeSubject(ns, t.Name), b)
}

// NewOutcomes returns outcomes read over nc.
func NewOutcomes(nc *nats.Conn) *Outcomes { return &Outcomes{nc: nc} }

// FollowCompletions makes Subscribe follow each activated rule without a
// delivery policy to its end: finished activations are announced on
// prefix + activation id with their record as JSON (or empty when too
// large), and each one of an outcome delivered becomes a Followup. It
// returns o.
func (o *Outcomes) FollowCompletions(prefix string) *Outcomes {
	o.done = prefix
	return o
}

// Subscribe calls deliver with the JSON of each Outcome of trigger t in
// namespace ns, or of every trigger of ns when t is empty, and of each
// Followup after its Outcome, from now until stop is called. deliver runs
// on the subscriptions' goroutines, one at a time, and should not block;
// messages it falls behind on are dropped by NATS.
func (o *Outcomes) Subscribe(ns, t string, deliver func([]byte)) (stop func(), err error) {
	subject := outcomesPrefix + "." + hub.EncodeToken(ns) + ".*"
	if t != "" {
		subject = OutcomeSubject(ns, t)
	}
	var f *follower
	if o.done != "" {
		f = &follower{deliver: deliver, pending: map[string]Followup{}, early: map[string]Result{}}
		deliver = f.outcome
	}
	var subs []*nats.Subscription
	stop = func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	sub, err := o.nc.Subscribe(subject, func(m *nats.Msg) { deliver(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	subs = append(subs, sub)
	if f != nil {
		sub, err := o.nc.Subscribe(o.done+"*", func(m *nats.Msg) { f.completed(strings.TrimPrefix(m.Subject, o.done), m.Data) })
		if err != nil {
			stop()
			return nil, fmt.Errorf("subscribe to %s*: %w", o.done, err)
		}
		subs = append(subs, sub)
	}
	if err := o.nc.Flush(); err != nil { // the server has the interest
		stop()
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	return stop, nil
}

// maxFollowed bounds a follower's memory of activations it waits for,
// and of completions it has not matched yet; when full, it starts over.
const maxFollowed = 4096

// follower turns the completions of the activations of the outcomes it
// delivers into Followups. A completion may come before the outcome that
// names it (the outcome is published once the trigger's record is
// stored), so unmatched completions are kept a while.
type follower struct {
	mu      sync.Mutex
	deliver func([]byte)
	pending map[string]Followup // by activation id, of outcomes delivered
	early   map[string]Result   // completions not matched yet, by activation id
}

// outcome delivers line and then the Followups of its activations that
// have already completed.
func (f *follower) outcome(line []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deliver(line)
	var o Outcome
	if bytes.HasPrefix(line, []byte(`{"result"`)) || json.Unmarshal(line, &o) != nil {
		return
	}
	for _, v := range o.Rules {
		if v.Outcome != OutcomeActivated || v.Policy || v.ActivationID == "" {
			continue
		}
		fu := Followup{Trigger: o.Trigger, Result: Result{Rule: v.Rule, Action: v.Action, ActivationID: v.ActivationID, TriggerActivationID: o.TriggerActivationID}}
		if done, ok := f.early[v.ActivationID]; ok {
			delete(f.early, v.ActivationID)
			f.send(fu, done)
			continue
		}
		if len(f.pending) >= maxFollowed {
			clear(f.pending)
		}
		f.pending[v.ActivationID] = fu
	}
}

// completed takes the completion of activation id, whose record is rec
// (empty when too large to announce).
func (f *follower) completed(id string, rec []byte) {
	var a struct {
		Response struct {
			Status string          `json:"status"`
			Result json.RawMessage `json:"result"`
		} `json:"response"`
	}
	var done Result
	if len(rec) > 0 && json.Unmarshal(rec, &a) == nil {
		done.Status = a.Response.Status
		if done.Status != "" && done.Status != "success" {
			done.Error = ResultError(a.Response.Result, done.Status)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fu, ok := f.pending[id]
	if !ok {
		if len(f.early) >= maxFollowed {
			clear(f.early)
		}
		f.early[id] = done
		return
	}
	delete(f.pending, id)
	f.send(fu, done)
}

// send delivers fu with done's status and error.
func (f *follower) send(fu Followup, done Result) {
	fu.Result.Status, fu.Result.Error, fu.Time = done.Status, done.Error, time.Now().UTC()
	if b, err := json.Marshal(fu); err == nil {
		f.deliver(b)
	}
}

// ResultError is the error of a failed activation whose result is result:
// its "error" (a string as it is, any other JSON as text), or status.
func ResultError(result json.RawMessage, status string) string {
	var res struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(result, &res) == nil && len(res.Error) > 0 {
		var s string
		if json.Unmarshal(res.Error, &s) == nil {
			return s
		}
		return string(res.Error)
	}
	return status
}

// What became of a rule's delivery (Delivery), as the engine's observer
// hears it (they are not published as Verdicts).
const (
	OutcomeRetried      = "retried"       // a failed activation is tried again
	OutcomeDeadLettered = "dead_lettered" // the last attempt failed; the dead letter is published
)
