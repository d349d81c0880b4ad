package hub_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// TestEventDedupBySourceAndID: a redelivered event (same source and id) is
// dropped; another producer's event with the same id is not.
func TestEventDedupBySourceAndID(t *testing.T) {
	ctx := context.Background()
	h, st := hubtest.Events(t)
	js := h.JetStream()
	send := func(source string) {
		e := event.New()
		e.SetID("1")
		e.SetSource(source)
		e.SetType("com.example.t")
		if err := hub.PublishEvent(ctx, js, "guest", "t", e, nil); err != nil {
			t.Fatal(err)
		}
	}
	send("/producer/a")
	send("/producer/a") // a redelivery
	send("/producer/b")
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("%d events stored, want 2 (one per source)", info.State.Msgs)
	}
}

// TestEventAttributesWithControlCharacters: an event whose attribute holds a
// line break or bytes that are not UTF-8 is refused with a 400 naming the
// attribute, before a header is written (it would cut the attribute short
// or forge a header); SafeAttribute percent-encodes exactly those.
func TestEventAttributesWithControlCharacters(t *testing.T) {
	ctx := context.Background()
	h, st := hubtest.Events(t)
	for _, tc := range []struct {
		name string
		set  func(e *event.Event)
	}{
		{"subject", func(e *event.Event) { e.SetSubject("a\r\nNats-Msg-Id: forged") }},
		{"type", func(e *event.Event) { e.SetType("com.example\x00") }},
		{"extension x", func(e *event.Event) { e.SetExtension("x", "v\u0085") }},
		{"subject", func(e *event.Event) { e.SetSubject("\xff") }},
	} {
		e := event.New()
		e.SetID("1")
		e.SetSource("/s")
		e.SetType("com.example.t")
		tc.set(&e)
		err := hub.PublishEvent(ctx, h.JetStream(), "guest", "t", e, nil)
		var invalid *hub.InvalidEventError
		if !errors.As(err, &invalid) || invalid.HTTPStatus() != http.StatusBadRequest || !strings.Contains(invalid.Msg, tc.name) {
			t.Errorf("%s: %v, want an InvalidEventError naming it", tc.name, err)
		}
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("%v events stored (%v), want none", info.State.Msgs, err)
	}
	for in, want := range map[string]string{
		"sensors/k1/temp": "sensors/k1/temp", "a\r\nb": "a%0D%0Ab", "\x00\x1f\x7f": "%00%1F%7F",
		"é\u0085ü": "é%C2%85ü", "x\xffy": "x%FFy", "ok \uFFFD": "ok \uFFFD", "100%": "100%",
	} {
		if got := hub.SafeAttribute(in); got != want {
			t.Errorf("SafeAttribute(%q) = %q, want %q", in, got, want)
		}
	}
}
