package invoker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// queued is how many messages the invocation queue has stored so far.
func queued(t *testing.T, s *stack) uint64 {
	t.Helper()
	st, err := s.hub.JetStream().Stream(t.Context(), hub.InvocationsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// blockingCall makes a blocking call with body through call and returns
// its record.
func blockingCall(t *testing.T, call func(query, body string) (int, []byte), body string) *actions.Activation {
	t.Helper()
	rec, err := tryBlockingCall(call, body)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// tryBlockingCall is blockingCall for other goroutines than the test's.
func tryBlockingCall(call func(query, body string) (int, []byte), body string) (*actions.Activation, error) {
	status, b := call("blocking=true", body)
	if status != http.StatusOK {
		return nil, fmt.Errorf("blocking call: %d %s", status, b)
	}
	var rec actions.Activation
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("record %s: %v", b, err)
	}
	return &rec, nil
}

// goCall makes a blocking call with body on a goroutine of its own; its
// record comes on the channel, nil when the call failed (t is failed).
func goCall(t *testing.T, call func(query, body string) (int, []byte), body string) <-chan *actions.Activation {
	done := make(chan *actions.Activation, 1)
	go func() {
		rec, err := tryBlockingCall(call, body)
		if err != nil {
			t.Error(err)
		}
		done <- rec
	}()
	return done
}

// counterAPI is a stack serving its API, with guest's action counter
// (counterCode), and a func that calls counter through the API.
func counterAPI(t *testing.T) (*stack, func(query, body string) (int, []byte)) {
	s := newStack(t, stackOptions{})
	srv := serveAPI(t, s)
	s.put(t, action{name: "counter", code: counterCode})
	return s, func(query, body string) (int, []byte) {
		return postInvoke(t, srv.Client(), srv, "counter", query, body)
	}
}

// A blocking call through the API to an action with a container warm and
// free in this process runs there at once, without a write to the queue,
// and its record is stored as a queued one's is. A call that finds the
// container busy takes the queue, and so does the first, which finds none.
func TestBlockingCallToAWarmContainerSkipsTheQueue(t *testing.T) {
	s, call := counterAPI(t)

	before := queued(t, s)
	first := blockingCall(t, call, `{}`)
	if got := queued(t, s); got != before+1 {
		t.Fatalf("the first call, with no container warm, wrote %d messages to the queue, want 1", got-before)
	}

	before = queued(t, s)
	var ids []string
	for i := range 5 {
		rec := blockingCall(t, call, `{}`)
		var out counted
		result(t, rec, &out)
		if out.N != i+2 {
			t.Errorf("call %d ran as the container's activation %d, want %d (the warm container)", i+2, out.N, i+2)
		}
		ids = append(ids, rec.ActivationID)
	}
	if got := queued(t, s); got != before {
		t.Errorf("5 calls to a warm free container wrote %d messages to the queue, want none", got-before)
	}
	for _, id := range append(ids, first.ActivationID) {
		if !eventually(10*time.Second, func() bool { _, err := s.records.Get(context.Background(), "guest", id); return err == nil }) {
			t.Errorf("record of %s not stored", id)
		}
	}

	// While one call sleeps in the container, another finds it busy: it
	// goes through the queue and waits for it there.
	before = queued(t, s)
	sleeping := goCall(t, call, `{"sleep":1500}`)
	if !eventually(10*time.Second, func() bool { return s.pool.Stats().Busy > 0 }) {
		t.Fatal("the sleeping call never took the container")
	}
	blockingCall(t, call, `{}`)
	<-sleeping
	if got := queued(t, s); got != before+1 {
		t.Errorf("a call to a busy container and one to a free one wrote %d messages to the queue, want 1", got-before)
	}

}

// Calls that arrive together see one free container: the first claims
// it as RunNow takes it, and the others are refused, to take the queue,
// rather than all waiting for it in this process.
func TestRunNowClaimsTheContainer(t *testing.T) {
	s, call := counterAPI(t)
	blockingCall(t, call, `{}`) // warm
	a, _, err := s.store.GetAction(t.Context(), actions.Name{Namespace: "guest", Name: "counter"}, false)
	if err != nil {
		t.Fatal(err)
	}
	invocation := func() *actions.Invocation {
		return &actions.Invocation{ActivationID: actions.NewActivationID(), Namespace: "guest", Subject: "guest", Action: *a,
			Submitted: time.Now().UnixMilli(), Payload: []byte(`{"sleep":500}`)}
	}
	first := invocation()
	if !s.iv.RunNow(t.Context(), first) {
		t.Fatal("RunNow refused a call to a warm free container")
	}
	for i := range 3 {
		if s.iv.RunNow(t.Context(), invocation()) {
			t.Errorf("call %d at once: RunNow took it while the first holds the only container", i+2)
		}
	}
	if !eventually(10*time.Second, func() bool {
		_, err := s.records.Get(context.Background(), "guest", first.ActivationID)
		return err == nil
	}) {
		t.Fatal("the first call's record was not stored")
	}
	if !eventually(10*time.Second, func() bool { return s.pool.Stats().Busy == 0 }) {
		t.Fatal("the container stayed busy after the first call")
	}
	if !s.iv.RunNow(t.Context(), invocation()) {
		t.Error("RunNow refused a call once the container was free again")
	}
}

// An invoker that stops lets the calls it runs off the queue finish and
// stores their records first.
func TestStoppingInvokerFinishesTheCallsItRunsNow(t *testing.T) {
	s, call := counterAPI(t)
	blockingCall(t, call, `{}`) // warm
	before := queued(t, s)
	done := goCall(t, call, `{"sleep":1000}`)
	if !eventually(10*time.Second, func() bool { return s.pool.Stats().Busy > 0 }) {
		t.Fatal("the call never took the container")
	}
	s.stopRun()
	rec := <-done
	if rec == nil {
		t.FailNow()
	}
	if rec.Response.StatusCode != actions.StatusSuccess {
		t.Fatalf("the call the invoker ran as it stopped: %s", rec.Response.Result)
	}
	if got := queued(t, s); got != before {
		t.Errorf("the call wrote %d messages to the queue, want none", got-before)
	}
	if _, err := s.records.Get(t.Context(), "guest", rec.ActivationID); err != nil {
		t.Errorf("the invoker stopped before storing the record of the call it ran: %v", err)
	}
}
