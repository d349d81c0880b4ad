package rules

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
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
}

// Outcomes subscribes to the outcomes the engine publishes, and publishes
// those of the fires that never reach the engine.
type Outcomes struct{ nc *nats.Conn }

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

// Subscribe calls deliver with the JSON of each Outcome of trigger t in
// namespace ns, or of every trigger of ns when t is empty, from now until
// stop is called. deliver runs on one goroutine of the subscription's own
// and should not block; messages it falls behind on are dropped by NATS.
func (o *Outcomes) Subscribe(ns, t string, deliver func([]byte)) (stop func(), err error) {
	subject := outcomesPrefix + "." + hub.EncodeToken(ns) + ".*"
	if t != "" {
		subject = OutcomeSubject(ns, t)
	}
	sub, err := o.nc.Subscribe(subject, func(m *nats.Msg) { deliver(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	if err := o.nc.Flush(); err != nil { // the server has the interest
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// What became of a rule's delivery (Delivery), as the engine's observer
// hears it (they are not published as Verdicts).
const (
	OutcomeRetried      = "retried"       // a failed activation is tried again
	OutcomeDeadLettered = "dead_lettered" // the last attempt failed; the dead letter is published
)
