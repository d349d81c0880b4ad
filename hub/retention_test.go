package hub_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

func retentionEvent(i int, data string) event.Event {
	ev := event.New()
	ev.SetID(fmt.Sprintf("delivery-%08d", i))
	ev.SetSource("https://github.com/gusthub/gust")
	ev.SetType("com.github.push")
	ev.SetTime(time.Now())
	ev.SetDataContentType("application/json")
	ev.DataEncoded = []byte(data)
	return ev
}

func subjectTotal(t *testing.T, st jetstream.Stream, filter string) uint64 {
	t.Helper()
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// TestEventRetentionPrune: a namespace with a retention of an hour loses
// its events once they are older than that, another with the default
// keeps them; settings out of range are refused, 0 restores the default.
func TestEventRetentionPrune(t *testing.T) {
	ctx := t.Context()
	h, st := hubtest.Events(t)
	js := h.JetStream()
	for i := range 5 {
		for _, ns := range []string{"short", "long"} {
			if err := hub.PublishEvent(ctx, js, ns, "t", retentionEvent(i, `{"n":1}`), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := hub.NewEventRetention(js, nil)
	if d, own, err := r.Get(ctx, "short"); err != nil || own || d != hub.DefaultEventRetention {
		t.Fatalf("default retention: %v %v %v", d, own, err)
	}
	if err := r.Set(ctx, "short", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []time.Duration{time.Minute, 31 * 24 * time.Hour} {
		if err := r.Set(ctx, "long", bad); !errors.Is(err, hub.ErrRetentionRange) {
			t.Errorf("Set(%s) = %v, want ErrRetentionRange", bad, err)
		}
	}
	// Now: nothing is an hour old yet.
	if n, err := r.Prune(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("prune now: %d, %v; want nothing purged", n, err)
	}
	// Two hours from now, short's events are past its hour; long's are not
	// past 7 days.
	n, err := r.Prune(ctx, time.Now().Add(2*time.Hour))
	if err != nil || n != 5 {
		t.Fatalf("prune in two hours: %d, %v; want short's 5 events", n, err)
	}
	if got := subjectTotal(t, st, hub.EventSubject("short", "t")); got != 0 {
		t.Errorf("short keeps %d events", got)
	}
	if got := subjectTotal(t, st, hub.EventSubject("long", "t")); got != 5 {
		t.Errorf("long keeps %d events, want 5", got)
	}
	if err := r.Set(ctx, "short", 0); err != nil {
		t.Fatal(err)
	}
	if d, own, err := r.Get(ctx, "short"); err != nil || own || d != hub.DefaultEventRetention {
		t.Fatalf("reset retention: %v %v %v", d, own, err)
	}
}

// TestEventRetentionPurgesNothingItSeesWrong: when the search for a
// namespace's first event within its retention finds none, but its
// triggers' last events are within it (a store still recovering from a
// crash: a CI run of the crash soak lost three events accepted before the
// kill so), nothing is purged; once they are all past it, they go.
func TestEventRetentionPurgesNothingItSeesWrong(t *testing.T) {
	ctx := t.Context()
	h, st := hubtest.Events(t)
	js := h.JetStream()
	for i := range 3 {
		for _, trigger := range []string{"a", "b"} {
			if err := hub.PublishEvent(ctx, js, "guest", trigger, retentionEvent(i, `{"n":1}`), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer hub.SeeNoEventSince()()
	r := hub.NewEventRetention(js, nil)
	if n, err := r.Prune(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("prune now: %d, %v; want nothing purged", n, err)
	}
	for _, trigger := range []string{"a", "b"} {
		if got := subjectTotal(t, st, hub.EventSubject("guest", trigger)); got != 3 {
			t.Errorf("trigger %s keeps %d events, want 3", trigger, got)
		}
	}
	if n, err := r.Prune(ctx, time.Now().Add(hub.DefaultEventRetention+time.Hour)); err != nil || n != 6 {
		t.Fatalf("prune past the retention: %d, %v; want the 6 events", n, err)
	}
}

// TestEventStorageCost measures what a stored event costs the events
// stream (JetStream's own accounting of the file store's message bytes),
// for the README: a GitHub-like event with 1 KB of JSON data.
func TestEventStorageCost(t *testing.T) {
	ctx := t.Context()
	h, st := hubtest.Events(t)
	data := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 1024-36) + `"}`
	const n = 2000
	before, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := hub.PublishEvent(ctx, h.JetStream(), "guest", "pushes", retentionEvent(i, data), map[string]string{hub.HeaderActivationID: fmt.Sprintf("%032x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	after, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	per := (after.State.Bytes - before.State.Bytes) / n
	t.Logf("%d events of %d bytes of data: %d bytes each in the stream (%.2f× the data)", n, len(data), per, float64(per)/float64(len(data)))
	if per < uint64(len(data)) || per > 4*uint64(len(data)) {
		t.Errorf("%d bytes per event for %d bytes of data", per, len(data))
	}
}
