package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
)

// Close stops a sequence still running for a caller that stopped waiting,
// and the sequence's record says it was cut short: with no invoker, its
// component waits on the queue for ever.
func TestCloseEndsARunningSequence(t *testing.T) {
	ctx := context.Background()
	p := newDispatcher(t)
	st, store, records, d := p.queue, p.store, p.records, p.d
	comp := &actions.Action{Namespace: "guest", Name: "comp", Exec: actions.Exec{Kind: "nodejs:20", Code: "function main(p) { return p }"}}
	if _, err := store.PutAction(ctx, comp, 0); err != nil {
		t.Fatal(err)
	}
	inv := &actions.Invocation{
		ActivationID: actions.NewActivationID(), Namespace: "guest", Subject: "guest", Submitted: time.Now().UnixMilli(),
		Action: actions.Action{Namespace: "guest", Name: "seq", Exec: actions.Exec{Kind: actions.KindSequence, Components: []string{"/guest/comp"}}},
	}
	if rec, err := d.Activate(ctx, inv, 0); rec != nil || err != nil {
		t.Fatalf("Activate without wait: %v, %v; want nil, nil", rec, err)
	}
	// The component is queued once the sequence runs.
	var queued actions.Invocation
	for deadline := time.Now().Add(10 * time.Second); queued.ActivationID == ""; {
		if m, err := st.GetLastMsgForSubject(ctx, hub.InvocationSubject("guest")); err == nil {
			if err := json.Unmarshal(m.Data, &queued); err != nil {
				t.Fatal(err)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("no component queued: %v", err)
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if queued.Cause != inv.ActivationID || queued.Action.Name != "comp" {
		t.Fatalf("queued %s caused by %s, want comp caused by %s", queued.Action.Name, queued.Cause, inv.ActivationID)
	}
	d.Close()
	rec, err := records.Get(ctx, "guest", inv.ActivationID)
	if err != nil {
		t.Fatalf("the record of the sequence cut short: %v", err)
	}
	if rec.StatusCode != actions.StatusInternalError {
		t.Errorf("sequence status %d, want %d (internal error)", rec.StatusCode, actions.StatusInternalError)
	}
	if len(rec.Logs) != 1 || rec.Logs[0] != queued.ActivationID {
		t.Errorf("sequence logs %v, want its one component %s", rec.Logs, queued.ActivationID)
	}
}

// With no invoker on the hub, the pool view says so.
func TestPoolViewWithoutInvoker(t *testing.T) {
	h := hubtest.Start(t)
	if _, err := dispatch.NewPoolView(h.Conn()).Containers(t.Context(), "guest"); !errors.Is(err, dispatch.ErrNoInvoker) {
		t.Errorf("err = %v, want ErrNoInvoker", err)
	}
	if _, err := dispatch.NewPoolView(h.Conn()).Building(t.Context()); !errors.Is(err, dispatch.ErrNoInvoker) {
		t.Errorf("Building: err = %v, want ErrNoInvoker", err)
	}
}
