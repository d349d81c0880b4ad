package invoker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// TestLargeParametersByReference: a 20 MB payload, more than an
// invocation's message may carry (8 MB here), reaches a nodejs action
// whole; its stored copy is deleted
// once the record is stored; an invocation whose stored parameters are
// gone ends in an internal error that says so, instead of being lost.
func TestLargeParametersByReference(t *testing.T) {
	s := newStack(t, stackOptions{remote: true})
	a := s.put(t, action{name: "size", code: `function main(p) { return { pad: (p.pad || '').length, n: p.n }; }`})
	big := `{"n":7,"pad":"` + strings.Repeat("x", 20<<20) + `"}`
	rec := s.invoke(t, "", a, big)
	var got struct{ Pad, N int }
	result(t, rec, &got)
	if got.Pad != 20<<20 || got.N != 7 {
		t.Errorf("the action got pad %d bytes and n %d, want %d and 7", got.Pad, got.N, 20<<20)
	}

	ctx := context.Background()
	objs, err := s.hub.JetStream().ObjectStore(ctx, hub.ParamsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, func() bool {
		list, err := objs.List(ctx)
		return len(list) == 0 && (err == nil || err == jetstream.ErrNoObjectsFound)
	}) {
		list, _ := objs.List(ctx)
		t.Errorf("%d stored parameters left after the activation", len(list))
	}

	inv := &actions.Invocation{ActivationID: actions.NewActivationID(), Namespace: "guest", Subject: "guest",
		Action: *a, Submitted: time.Now().UnixMilli(), PayloadRef: hub.DataRefScheme + "gone"}
	rec, err = s.disp.Activate(ctx, inv, time.Minute)
	if err != nil || rec == nil {
		t.Fatalf("activate with lost parameters: %v, record %v", err, rec)
	}
	if e := errorText(t, rec); rec.Response.StatusCode != actions.StatusInternalError || !strings.Contains(e, "parameters could not be read") {
		t.Errorf("lost parameters: status %d, error %q", rec.Response.StatusCode, e)
	}
}
