package hub

import (
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// TraceParentExtension is the CloudEvents distributed-tracing extension
// attribute that carries an event's W3C trace context: a fire, a webhook
// or an ingress request's traceparent header becomes it, and the rule
// engine passes it on to the invocations the event causes.
const TraceParentExtension = "traceparent"

// HeaderFeed names the feed (its provider's path, "alarms/alarm") whose
// instance put an event on its trigger; events fired through the API have
// none.
const HeaderFeed = "Gust-Feed"

// TraceParent returns ev's traceparent extension if it is a valid W3C
// traceparent, else "".
func TraceParent(ev event.Event) string {
	v, ok := ev.Extensions()[TraceParentExtension]
	if !ok {
		return ""
	}
	s, err := types.ToString(v)
	if err != nil || !ValidTraceParent(s) {
		return ""
	}
	return s
}

// SetTraceParent sets ev's traceparent extension to tp when ev has none
// and tp is a valid W3C traceparent (a request's header): an event's own
// trace context wins over its carrier's.
func SetTraceParent(ev *event.Event, tp string) {
	if tp == "" || TraceParent(*ev) != "" || !ValidTraceParent(tp) {
		return
	}
	ev.SetExtension(TraceParentExtension, tp)
}

// ValidTraceParent reports whether s is a W3C traceparent this version of
// the specification can use: "00-<32 hex trace id>-<16 hex parent id>-<2
// hex flags>", ids not all zero. Later versions may append fields after
// the flags, which are ignored; version ff is invalid.
func ValidTraceParent(s string) bool {
	if len(s) < 55 || (len(s) > 55 && s[55] != '-') {
		return false
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	if !isLowerHex(s[0:2]) || s[0:2] == "ff" || (s[0:2] == "00" && len(s) != 55) {
		return false
	}
	traceID, parentID := s[3:35], s[36:52]
	return isLowerHex(traceID) && isLowerHex(parentID) && isLowerHex(s[53:55]) &&
		traceID != "00000000000000000000000000000000" && parentID != "0000000000000000"
}

// TraceID is the trace id of a valid traceparent.
func TraceID(traceparent string) string {
	if !ValidTraceParent(traceparent) {
		return ""
	}
	return traceparent[3:35]
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
