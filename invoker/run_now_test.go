package invoker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
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
	status, b := call("blocking=true", body)
	if status != http.StatusOK {
		t.Fatalf("blocking call: %d %s", status, b)
	}
	var rec actions.Activation
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("record %s: %v", b, err)
	}
	return &rec
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
	var wg sync.WaitGroup
	wg.Go(func() { blockingCall(t, call, `{"sleep":1500}`) })
	if !eventually(10*time.Second, func() bool { return s.pool.Stats().Busy > 0 }) {
		t.Fatal("the sleeping call never took the container")
	}
	blockingCall(t, call, `{}`)
	wg.Wait()
	if got := queued(t, s); got != before+1 {
		t.Errorf("a call to a busy container and one to a free one wrote %d messages to the queue, want 1", got-before)
	}
}

// An invoker that stops lets the calls it runs off the queue finish and
// stores their records first.
func TestStoppingInvokerFinishesTheCallsItRunsNow(t *testing.T) {
	s, call := counterAPI(t)
	blockingCall(t, call, `{}`) // warm
	before := queued(t, s)
	done := make(chan *actions.Activation, 1)
	go func() { done <- blockingCall(t, call, `{"sleep":1000}`) }()
	if !eventually(10*time.Second, func() bool { return s.pool.Stats().Busy > 0 }) {
		t.Fatal("the call never took the container")
	}
	s.stopRun()
	rec := <-done
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
