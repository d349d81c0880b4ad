package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
)

// DeliveryAnnotation is the rule annotation that holds a rule's Delivery
// policy, a JSON object such as
//
//	{"retries": 3, "backoff": "200ms", "deadLetter": "/_/failed"}
//
// As the filter, it is copied onto the trigger's link, so the engine reads
// no rule per event. A rule without it keeps OpenWhisk's behaviour: each
// activation is queued once and its outcome is not looked at.
const DeliveryAnnotation = "delivery"

// Limits of a Delivery policy.
const (
	// MaxRetries bounds Delivery.Retries.
	MaxRetries = 10
	// DefaultBackoff is the first retry's delay when the policy names none.
	DefaultBackoff = 200 * time.Millisecond
	// MaxBackoff caps the delay between two attempts; the delay doubles
	// from the initial backoff up to it.
	MaxBackoff = time.Minute
)

// Delivery is a rule's delivery policy (beyond OpenWhisk, opt-in). An
// activation of the rule's action that ends in a developer error or an
// internal error (not an application error, which is the action's answer)
// is run again up to Retries times, after Backoff, then twice as long each
// time, capped at MaxBackoff. When the last attempt fails too, a CloudEvent
// of type DeadLetterType describing the failure is put on the trigger
// DeadLetter, if any.
type Delivery struct {
	Retries int `json:"retries"`
	// Backoff is the delay before the first retry, a Go duration such as
	// "200ms"; empty means DefaultBackoff.
	Backoff string `json:"backoff,omitempty"`
	// DeadLetter is the fully qualified name of a trigger of the rule's
	// namespace, "/ns/name".
	DeadLetter string `json:"deadLetter,omitempty"`
}

// ErrInvalidDelivery marks a delivery policy that cannot be used.
var ErrInvalidDelivery = errors.New("invalid delivery policy")

// ParseDelivery reads and checks a delivery policy of a rule of namespace
// ns, resolving its dead-letter trigger's "_" to ns. A JSON string is read
// as the policy's JSON text, for clients that send only string
// annotations. Errors wrap ErrInvalidDelivery and name the problem.
func ParseDelivery(raw json.RawMessage, ns string) (Delivery, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var d Delivery
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Delivery{}, fmt.Errorf("%w: %s", ErrInvalidDelivery, describeDecodeError(err))
	}
	if dec.More() {
		return Delivery{}, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidDelivery)
	}
	if d.Retries < 0 || d.Retries > MaxRetries {
		return Delivery{}, fmt.Errorf("%w: retries must be between 0 and %d, not %d", ErrInvalidDelivery, MaxRetries, d.Retries)
	}
	if d.Backoff != "" {
		b, err := time.ParseDuration(d.Backoff)
		if err != nil || b <= 0 || b > MaxBackoff {
			return Delivery{}, fmt.Errorf("%w: backoff must be a duration such as \"200ms\", above 0 and at most %v, not %q", ErrInvalidDelivery, MaxBackoff, d.Backoff)
		}
		d.Backoff = b.String()
	}
	if d.DeadLetter != "" {
		n, err := actions.ParseName(d.DeadLetter, ns)
		if err != nil || n.Package != "" {
			return Delivery{}, fmt.Errorf("%w: deadLetter must name a trigger, such as \"/_/failed\", not %q", ErrInvalidDelivery, d.DeadLetter)
		}
		if n.Namespace != ns {
			return Delivery{}, fmt.Errorf("%w: the dead-letter trigger %s must be in the rule's namespace %s", ErrInvalidDelivery, n, ns)
		}
		d.DeadLetter = n.String()
	}
	return d, nil
}

// describeDecodeError words a decoding error of a policy for its author.
func describeDecodeError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return "the policy must be a JSON object, not a JSON " + typeErr.Value
		}
		want := "string"
		if typeErr.Field == "retries" {
			want = "number"
		}
		return fmt.Sprintf("field %s must be a JSON %s, not a JSON %s", typeErr.Field, want, typeErr.Value)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + field + " (want retries, backoff, deadLetter)"
	}
	return "the policy is not JSON: " + err.Error()
}

// DeadLetterName is the dead-letter trigger's name; ok is false when the
// policy has none.
func (d *Delivery) DeadLetterName() (n actions.Name, ok bool) {
	if d.DeadLetter == "" {
		return actions.Name{}, false
	}
	n, err := actions.ParseName(d.DeadLetter, "")
	return n, err == nil
}

// Delay is how long to wait before attempt (2 for the first retry): the
// initial backoff, doubled for each later attempt, capped at MaxBackoff.
func (d *Delivery) Delay(attempt int) time.Duration {
	b := DefaultBackoff
	if v, err := time.ParseDuration(d.Backoff); err == nil && v > 0 {
		b = v
	}
	for i := 2; i < attempt && b < MaxBackoff; i++ {
		b *= 2
	}
	return min(b, MaxBackoff)
}

// normalizeDelivery checks r's delivery annotation and stores it in its
// canonical form (dead-letter trigger fully qualified, backoff normalized).
func normalizeDelivery(r *Rule) error {
	raw := r.Annotations.Get(DeliveryAnnotation)
	if raw == nil {
		return nil
	}
	d, err := ParseDelivery(raw, r.Namespace)
	if err != nil {
		return actions.Invalidf("The request content was malformed:\n%v", err)
	}
	if n, ok := d.DeadLetterName(); ok && RefOf(n) == r.Trigger {
		return actions.Invalidf("The request content was malformed:\n%v: the dead-letter trigger %s is the rule's own trigger, which would make a loop", ErrInvalidDelivery, n)
	}
	b, _ := json.Marshal(d) // a Delivery always marshals
	r.Annotations = r.Annotations.Set(DeliveryAnnotation, json.RawMessage(b))
	return nil
}

// Delivery is the policy stored on r, nil when it has none (or one that
// does not parse, which a PUT does not let through).
func (r *Rule) Delivery() *Delivery {
	raw := r.Annotations.Get(DeliveryAnnotation)
	if raw == nil {
		return nil
	}
	d, err := ParseDelivery(raw, r.Namespace)
	if err != nil {
		return nil
	}
	return &d
}

// EventParameter is the parameter that carries a CloudEvent's attributes
// (id, source, type, specversion, time, subject, datacontenttype and
// extensions) to the actions its rules invoke.
const EventParameter = "__event"

// DeadLetterType is the CloudEvents type of the event a rule's delivery
// policy puts on its dead-letter trigger when every attempt failed. Its
// source is /namespaces/<ns>/rules/<rule>, its id is derived from the last
// failed activation (so a redelivery does not publish it twice), it carries
// hub.HopsExtension one above the failed event's, and its data is a JSON
// object DeadLetter.
const DeadLetterType = "dev.gust.rule.deadletter"

// DeadLetter is the data of a DeadLetterType event.
type DeadLetter struct {
	// Event is the event that failed: its attributes (as in
	// EventParameter), and its data under "data" (JSON as it is, any
	// other data as a string).
	Event json.RawMessage `json:"event"`
	// Rule is "ns/rule"; Action is the action's "ns/name" or
	// "ns/pkg/name".
	Rule   string `json:"rule"`
	Action string `json:"action"`
	// ActivationID is the last attempt's activation; Attempts is how many
	// activations were made.
	ActivationID string `json:"activationId"`
	Attempts     int    `json:"attempts"`
	// StatusCode is the last attempt's status (2 developer error,
	// 3 internal error); Error is its error message.
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
}

// ParseDeadLetter reads a DeadLetterType event: its DeadLetter and the
// event that failed, rebuilt from DeadLetter.Event (the CloudEvents JSON
// format's members), so that it can be delivered to the rule again.
func ParseDeadLetter(ev event.Event) (DeadLetter, event.Event, error) {
	var dl DeadLetter
	if ev.Type() != DeadLetterType {
		return dl, event.Event{}, fmt.Errorf("event %s is of type %s, not a dead letter (%s)", ev.ID(), ev.Type(), DeadLetterType)
	}
	if err := json.Unmarshal(ev.Data(), &dl); err != nil {
		return dl, event.Event{}, fmt.Errorf("dead letter %s: %w", ev.ID(), err)
	}
	var failed event.Event
	if err := json.Unmarshal(dl.Event, &failed); err != nil {
		return dl, event.Event{}, fmt.Errorf("dead letter %s: the failed event: %w", ev.ID(), err)
	}
	if _, _, ok := strings.Cut(dl.Rule, "/"); !ok {
		return dl, event.Event{}, fmt.Errorf("dead letter %s: rule %q is not \"ns/rule\"", ev.ID(), dl.Rule)
	}
	return dl, failed, nil
}

// DerivedID is the activation id derived from parts: the same parts give
// the same id, so that work redone after a crash or a redelivery records
// under the id it had.
func DerivedID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// AttemptID is the activation id of attempt n (from 1) of rule's ("ns/rule")
// delivery of the trigger activation triggerID: the first is the id a rule
// without a Delivery policy gets, so that a policy does not change it. The
// trigger's record names only the first; the tree of an activation finds
// the retries by these ids.
func AttemptID(triggerID, rule string, n int) string {
	if n <= 1 {
		return DerivedID(triggerID, rule)
	}
	return DerivedID(triggerID, rule, "attempt", strconv.Itoa(n))
}
