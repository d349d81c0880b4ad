package hub

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// PlainFireType is the CloudEvents type of an OpenWhisk-style fire (a JSON
// payload POSTed to a trigger). Its actions get only the payload, as in
// OpenWhisk; actions of any other event also get the event's attributes as
// a parameter (rules.EventParameter).
const PlainFireType = "dev.gust.trigger.fire"

// HopsExtension is the CloudEvents extension that counts how many times an
// event has been passed on by Gust: absent means 0. Events the rule engine
// puts on triggers itself (dead letters) carry the count of the event they
// describe plus one.
//
// Gust cannot add the extension to the HTTP requests an action makes: an
// action that fires a trigger should forward the count it was given, plus
// one, as the header "ce-gusthops". Actions of CloudEvents (any event that
// is not a plain OpenWhisk fire) find the count among the attributes in
// their event parameter ("__event": {"gusthops": "3", ...}, absent for 0);
// actions of a plain fire get only its payload, as in OpenWhisk, so they
// do not see it. An action that does not forward the count starts it again
// at 0: the hop limit stops only the loops whose actions take part, and
// the loops through dead letters.
const HopsExtension = "gusthops"

// BadHopsMessage says that an event's HopsExtension is not a non-negative
// integer.
const BadHopsMessage = "CloudEvent extension '" + HopsExtension + "' must be a non-negative integer"

// HopLimit is the largest HopsExtension an event may carry: the rule
// engine runs no rule for an event with more (it records why), and
// producers refuse such an event with CheckHops.
const HopLimit = 10

// ErrHopLimit marks an event that exceeded HopLimit.
var ErrHopLimit = errors.New("event exceeded the hop limit")

// HopLimitError is the error for an event whose HopsExtension exceeds
// HopLimit. It unwraps to ErrHopLimit; producers answer it with 400
// (HTTPStatus).
type HopLimitError struct{ Hops int }

func (e *HopLimitError) Error() string {
	return fmt.Sprintf("Event exceeded the hop limit of %d (%s=%d): a rule's action probably fires the trigger that invoked it.", HopLimit, HopsExtension, e.Hops)
}

// Unwrap returns ErrHopLimit.
func (e *HopLimitError) Unwrap() error { return ErrHopLimit }

// HTTPStatus is 400: the producer sent an event Gust refuses.
func (e *HopLimitError) HTTPStatus() int { return http.StatusBadRequest }

// InvalidEventError is an event whose envelope breaks Gust's rules, such as
// a HopsExtension that is not a number. Msg is what the producer is told,
// with 400 (HTTPStatus).
type InvalidEventError struct{ Msg string }

func (e *InvalidEventError) Error() string { return e.Msg }

// HTTPStatus is 400: the producer sent an event Gust refuses.
func (e *InvalidEventError) HTTPStatus() int { return http.StatusBadRequest }

// Hops is ev's HopsExtension: 0 when absent, and also when it is not a
// non-negative integer (ok false then).
func Hops(ev event.Event) (hops int, ok bool) {
	v, found := ev.Extensions()[HopsExtension]
	if !found {
		return 0, true
	}
	if s, isString := v.(string); isString {
		v = strings.TrimSpace(s) // binary-mode headers arrive as strings
	}
	n, err := types.ToInteger(v)
	if err != nil {
		return 0, false
	}
	if n < 0 {
		return 0, false
	}
	return int(n), true
}

// CheckHops returns a *HopLimitError when ev's HopsExtension exceeds
// HopLimit, and an *InvalidEventError when it is not a non-negative
// integer.
func CheckHops(ev event.Event) error {
	n, ok := Hops(ev)
	if !ok {
		return &InvalidEventError{Msg: "The request content was malformed:\n" + BadHopsMessage}
	}
	if n > HopLimit {
		return &HopLimitError{Hops: n}
	}
	return nil
}

// disallowed reports whether CloudEvents disallows r in a String attribute:
// the control characters U+0000–U+001F and U+007F–U+009F (a line break
// would end the message header the attribute travels in).
func disallowed(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }

// allowed reports whether s is UTF-8 without a disallowed character.
func allowed(s string) bool { return utf8.ValidString(s) && strings.IndexFunc(s, disallowed) < 0 }

// SafeAttribute returns s with every character CloudEvents disallows in a
// String attribute, and every byte that is not UTF-8, percent-encoded
// ("a\nb" becomes "a%0Ab"), for feeds that make attributes of what an
// upstream sends (an MQTT topic, a CouchDB document id): an event with
// such a character is refused (CheckAttributes).
func SafeAttribute(s string) string {
	if allowed(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || disallowed(r) {
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// CheckAttributes returns an *InvalidEventError naming the first context
// attribute or extension of e that holds a character CloudEvents
// disallows in a String (see SafeAttribute): events travel in message
// headers, where a line break would cut the attribute short or forge
// another header.
func CheckAttributes(e event.Event) error {
	check := func(name, v string) error {
		if !allowed(v) {
			return &InvalidEventError{Msg: fmt.Sprintf("The request content was malformed:\nThe event's %s holds a control character or bytes that are not UTF-8.", name)}
		}
		return nil
	}
	for _, a := range [][2]string{{"id", e.ID()}, {"source", e.Source()}, {"type", e.Type()}, {"subject", e.Subject()},
		{"dataschema", e.DataSchema()}, {"datacontenttype", e.DataContentType()}} {
		if err := check(a[0], a[1]); err != nil {
			return err
		}
	}
	for k, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return &InvalidEventError{Msg: fmt.Sprintf("The request content was malformed:\nThe event's extension %s: %v", k, err)}
		}
		if err := check("extension "+k, s); err != nil {
			return err
		}
	}
	return nil
}
