package engine

import (
	"encoding/json"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/rules"
)

// publishOutcome publishes what became of ev on core NATS: one marshal and
// one buffered write, which the server drops when nobody listens.
func (e *Engine) publishOutcome(ns, trigger, triggerID string, ev event.Event, results []ruleResult) {
	nc := e.js.Conn()
	subject := rules.OutcomeSubject(ns, trigger)
	if nc == nil || e.heard != nil && !e.heard(subject) {
		return
	}
	o := rules.Outcome{
		Trigger: ns + "/" + trigger, Time: time.Now().UTC(), TriggerActivationID: triggerID,
		Event: rules.OutcomeEventOf(ev),
		Rules: make([]rules.Verdict, len(results)),
	}
	for i, r := range results {
		o.Rules[i] = rules.Verdict{Rule: r.Rule, Action: r.Action, Outcome: r.outcome, ActivationID: r.ActivationID, Policy: r.policy}
		if r.outcome == rules.OutcomeFailed {
			o.Rules[i].Error = r.Error
		}
	}
	b, err := json.Marshal(o)
	if err != nil {
		return
	}
	if err := nc.Publish(subject, b); err != nil {
		e.log.Debug("outcome not published", "trigger", o.Trigger, "err", err)
	}
}

// publishFollowup publishes r, how one attempt of d ended, for those who
// watch d's trigger: r's rule, action and ids are filled in here.
func (e *Engine) publishFollowup(d *delivery, activationID string, r rules.Result) {
	nc := e.js.Conn()
	if nc == nil {
		return
	}
	if d.handled != nil {
		<-d.handled // closed when handle returns, which it does promptly
	}
	r.Rule, r.Action, r.ActivationID, r.TriggerActivationID = d.rule, d.action, activationID, d.triggerID
	f := rules.Followup{Result: r, Trigger: d.inv.Namespace + "/" + d.trigger, Time: time.Now().UTC()}
	if err := rules.PublishFollowup(nc, d.inv.Namespace, d.trigger, &f); err != nil {
		e.log.Debug("followup not published", "trigger", f.Trigger, "err", err)
	}
}
