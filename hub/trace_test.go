package hub

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

func TestValidTraceParent(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later", true}, // a later version may add fields
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", false},    // version 00 has none
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false},
		{"", false},
		{"garbage", false},
	} {
		if got := ValidTraceParent(tc.s); got != tc.want {
			t.Errorf("ValidTraceParent(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// TestSetTraceParent: a request's traceparent goes onto an event without
// one; an event's own wins; an invalid one is not set.
func TestSetTraceParent(t *testing.T) {
	const own, req = "00-11111111111111111111111111111111-2222222222222222-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ev := event.New()
	SetTraceParent(&ev, "nonsense")
	if got := TraceParent(ev); got != "" {
		t.Fatalf("invalid traceparent set: %q", got)
	}
	SetTraceParent(&ev, req)
	if got := TraceParent(ev); got != req {
		t.Fatalf("TraceParent = %q, want the request's", got)
	}
	ev.SetExtension(TraceParentExtension, own)
	SetTraceParent(&ev, req)
	if got := TraceParent(ev); got != own {
		t.Fatalf("TraceParent = %q, want the event's own", got)
	}
	if id := TraceID(own); id != "11111111111111111111111111111111" {
		t.Fatalf("TraceID = %q", id)
	}
}
