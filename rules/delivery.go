package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

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

// retryable reports whether an activation that ended with status code is
// run again: developer and internal errors are, success and application
// errors (the action's own answer) are not.
func retryable(code int) bool {
	return code == actions.StatusDeveloperError || code == actions.StatusInternalError
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
	r.Annotations = r.Annotations.Set(DeliveryAnnotation, mustJSON(d))
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
