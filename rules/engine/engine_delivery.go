package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

// maxDeliveries bounds the deliveries under a policy that run at once in
// one engine. When they are all busy, an event that needs another one is
// handed back to the stream for redelivery, rather than blocking the
// consumer or growing a queue without bound.
const maxDeliveries = 256

// deliveryMargin is added to an action's time limits when waiting for its
// record: queueing, container start, and the record's way back.
const deliveryMargin = 30 * time.Second

// errDeliveriesBusy is handle's error when no delivery slot is free.
var errDeliveriesBusy = errors.New("too many rule deliveries in flight")

// delivery is one rule's activation under a delivery policy.
type delivery struct {
	policy    rules.Delivery
	inv       actions.Invocation // the first attempt
	triggerID string
	rule      string // "ns/rule"
	action    string // "ns/name"
	ev        event.Event
	hops      int
	trigger   string // the trigger's name, in inv.Namespace
	// handled is closed once the event's outcome is published, which
	// the delivery's followups must come after.
	handled <-chan struct{}
}

// deliveries runs deliveries in the background. A delivery is known by its
// first activation id, which is derived from the trigger activation and
// the rule: a redelivered event whose delivery is running, or ran
// recently, does not start it again.
type deliveries struct {
	slots   chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	stopped bool
	running map[string]context.CancelFunc
	recent  map[string]struct{}
}

// maxRecentDeliveries bounds the memory of finished deliveries; when full
// it starts over.
const maxRecentDeliveries = 4096

func newDeliveries() *deliveries {
	return &deliveries{slots: make(chan struct{}, maxDeliveries), running: map[string]context.CancelFunc{}, recent: map[string]struct{}{}}
}

// start runs fn in the background under key, unless a delivery with that
// key runs or ran recently (started false, nil error). It never blocks: it
// returns errDeliveriesBusy when every slot is taken. ctx must not be
// cancelled by the caller's return (handle's is not); stop cancels it.
func (ds *deliveries) start(ctx context.Context, key string, fn func(ctx context.Context)) (started bool, err error) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.stopped {
		return false, errors.New("rule engine is stopping")
	}
	if _, ok := ds.running[key]; ok {
		return false, nil
	}
	if _, ok := ds.recent[key]; ok {
		return false, nil
	}
	select {
	case ds.slots <- struct{}{}:
	default:
		return false, errDeliveriesBusy
	}
	ctx, cancel := context.WithCancel(ctx)
	ds.running[key] = cancel
	ds.wg.Add(1)
	go func() {
		defer ds.wg.Done()
		defer func() {
			cancel()
			ds.mu.Lock()
			delete(ds.running, key)
			if len(ds.recent) >= maxRecentDeliveries {
				clear(ds.recent)
			}
			ds.recent[key] = struct{}{}
			ds.mu.Unlock()
			<-ds.slots
		}()
		fn(ctx)
	}()
	return true, nil
}

// stop cancels the deliveries in flight and waits for them to return.
// See Engine.deliver for what that means for their pending retries.
func (ds *deliveries) stop() {
	ds.mu.Lock()
	ds.stopped = true
	for _, cancel := range ds.running {
		cancel()
	}
	ds.mu.Unlock()
	ds.wg.Wait()
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attemptID is rules.AttemptID.
func attemptID(triggerID, rule string, n int) string { return rules.AttemptID(triggerID, rule, n) }

// startDelivery hands the first attempt inv of rule's action, under
// policy, to the background. It does not block; see deliveries.start.
func (e *Engine) startDelivery(ctx context.Context, d *delivery) error {
	_, err := e.deliveries.start(context.WithoutCancel(ctx), d.inv.ActivationID, func(ctx context.Context) { e.deliver(ctx, d) })
	return err
}

// deliver runs d's attempts: each waits for its activation's record; a
// developer or internal error (or a failure to queue) is tried again
// after the policy's backoff under a new activation id, derived from the
// trigger activation, the rule and the attempt; after the last failure
// the dead letter is published.
//
// When no record comes within the action's time limits plus a margin, the
// activation may still be queued or running: it is not tried again (that
// could run it twice) and counts as the last failure.
//
// At shutdown (ctx cancelled by deliveries.stop), a delivery is abandoned
// where it is: an attempt already queued still runs once, but the retries
// and the dead letter still to come are dropped and logged. The event was
// acknowledged when the delivery started, so it is not redelivered after a
// restart: retries are at most once per process lifetime.
func (e *Engine) deliver(ctx context.Context, d *delivery) {
	log := e.log.With("trigger_activation_id", d.triggerID, "rule", d.rule)
	inv := d.inv
	wait := actionWait(&inv.Action)
	var (
		code    int
		failure string
		attempt int
		last    rules.Result
	)
	for attempt = 1; ; attempt++ {
		if attempt > 1 {
			if err := e.sleep(ctx, d.policy.Delay(attempt)); err != nil {
				log.Warn("rule delivery abandoned at shutdown; its retries are dropped", "attempt", attempt, "err", err)
				return
			}
			inv.ActivationID = attemptID(d.triggerID, d.rule, attempt)
			inv.Submitted = time.Now().UnixMilli()
		}
		rec, err := e.activator.Activate(ctx, &inv, wait)
		if ctx.Err() != nil {
			log.Warn("rule delivery abandoned at shutdown; its retries are dropped", "activation_id", inv.ActivationID, "attempt", attempt)
			return
		}
		result := rules.Result{Attempt: attempt}
		switch {
		case err != nil:
			code, failure = actions.StatusInternalError, err.Error()
			result.Status = actions.StatusName(code)
		case rec == nil:
			code, failure = actions.StatusInternalError, fmt.Sprintf("no activation record within %v; the activation may still run, so it is not tried again", wait)
			log.Warn("rule delivery got no record", "activation_id", inv.ActivationID, "attempt", attempt, "wait", wait)
		case !retryable(rec.Response.StatusCode):
			result.Status = actions.StatusName(rec.Response.StatusCode)
			if rec.Response.StatusCode != actions.StatusSuccess {
				result.Error = activationError(rec)
			}
			e.publishFollowup(d, inv.ActivationID, result)
			return
		default:
			code, failure = rec.Response.StatusCode, activationError(rec)
			result.Status = actions.StatusName(code)
		}
		result.Error = failure
		log.Info("rule delivery attempt failed", "activation_id", inv.ActivationID, "attempt", attempt, "status", code, "err", failure)
		if attempt > d.policy.Retries || (err == nil && rec == nil) {
			last = result // published with the dead letter, if any
			break
		}
		result.Retry, result.RetryIn = attemptID(d.triggerID, d.rule, attempt+1), d.policy.Delay(attempt+1).Milliseconds()
		e.publishFollowup(d, inv.ActivationID, result)
		e.observeDelivery(d, rules.OutcomeRetried)
	}
	dl, ok := d.policy.DeadLetterName()
	if !ok {
		e.publishFollowup(d, inv.ActivationID, last)
		log.Warn("rule delivery failed; the rule has no dead-letter trigger", "activation_id", inv.ActivationID, "attempts", attempt)
		return
	}
	ev := deadLetterEvent(d, inv.ActivationID, attempt, code, failure)
	extra := map[string]string{hub.HeaderSubject: inv.Subject}
	if inv.APIKey != "" {
		extra[hub.HeaderAPIKey] = inv.APIKey // the dead letter acts for whoever fired the event
	}
	if err := hub.PublishEvent(ctx, e.js, dl.Namespace, dl.Name, ev, extra); err != nil {
		log.Error("dead letter not published", "dead_letter", dl.String(), "activation_id", inv.ActivationID, "err", err)
		e.publishFollowup(d, inv.ActivationID, last)
		return
	}
	last.DeadLetter = dl.Namespace + "/" + dl.Name
	e.publishFollowup(d, inv.ActivationID, last)
	e.observeDelivery(d, rules.OutcomeDeadLettered)
	log.Info("dead letter published", "dead_letter", dl.String(), "activation_id", inv.ActivationID, "attempts", attempt)
}

// actionWait is how long to wait for an activation of a: its time limit,
// once for /init and once for /run, plus a margin.
func actionWait(a *actions.Action) time.Duration {
	ms := a.Limits.Timeout
	if ms <= 0 {
		ms = actions.DefaultTimeoutMS
	}
	return 2*time.Duration(ms)*time.Millisecond + deliveryMargin
}

// activationError is the error message of a failed activation record: its
// result's "error", or the status name.
func activationError(rec *actions.Activation) string {
	return rules.ResultError(rec.Response.Result, actions.StatusName(rec.Response.StatusCode))
}

// deadLetterEvent is the DeadLetterType event of d's failure.
func deadLetterEvent(d *delivery, activationID string, attempts, code int, failure string) event.Event {
	var original map[string]json.RawMessage
	_ = json.Unmarshal(eventAttributes(d.ev), &original)
	if original == nil {
		original = map[string]json.RawMessage{}
	}
	if data := d.ev.Data(); len(data) > 0 {
		switch ct := d.ev.DataContentType(); { // the CloudEvents JSON format's members
		case hub.IsBinary(ct, data):
			original["data_base64"] = mustJSON(base64.StdEncoding.EncodeToString(data))
		case json.Valid(data) && !strings.HasPrefix(ct, "text/"):
			original["data"] = data
		default:
			original["data"] = mustJSON(string(data))
		}
	}
	ns, name := splitRule(d.rule)
	ev := event.New()
	ev.SetID(derivedID("deadletter", activationID))
	ev.SetSource("/namespaces/" + ns + "/rules/" + name)
	ev.SetType(rules.DeadLetterType)
	ev.SetTime(time.Now())
	ev.SetSubject(activationID)
	ev.SetExtension(hub.HopsExtension, d.hops+1)
	ev.SetDataContentType("application/json")
	ev.DataEncoded = mustJSON(rules.DeadLetter{
		Event: mustJSON(original), Rule: d.rule, Action: d.action, ActivationID: activationID,
		Attempts: attempts, StatusCode: code, Error: failure,
	})
	return ev
}

// splitRule splits a link key "ns/rule".
func splitRule(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}

// checkHops returns ev's hub.HopsExtension and, when it exceeds hub.HopLimit, a
// *hub.HopLimitError (logged): no rule runs for such an event. A count that
// is not a non-negative integer is taken as 0.
func (e *Engine) checkHops(ns, trigger string, ev event.Event) (int, error) {
	hops, _ := hub.Hops(ev)
	if hops <= hub.HopLimit {
		return hops, nil
	}
	err := &hub.HopLimitError{Hops: hops}
	e.log.Warn("event exceeded the hop limit; no rule runs", "trigger", ns+"/"+trigger, "event_id", ev.ID(), "source", ev.Source(), "err", err)
	return hops, err
}

// retryable reports whether an activation that ended with status code is
// run again: developer and internal errors are, success and application
// errors (the action's own answer) are not.
func retryable(code int) bool {
	return code == actions.StatusDeveloperError || code == actions.StatusInternalError
}
