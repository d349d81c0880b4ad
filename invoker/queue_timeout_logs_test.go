package invoker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// TestQueuedRunTimeoutLogs: an activation queued at the proxy that then
// exceeds its time limit keeps its logs, as one that had its container
// to itself does.
func TestQueuedRunTimeoutLogs(t *testing.T) {
	s := newStack(t, stackOptions{pool: invokerPool(actions.DefaultMemoryMB)})
	act := s.put(t, action{name: "queued-timeout-logs", code: queuedCode, limits: func(l *actions.Limits) { l.Timeout = 3000 }})
	for range 10 { // short runs: the pool queues the next ones
		s.invoke(t, "", act, `{"id":"w"}`)
	}
	recs := make(chan *actions.Activation, 2)
	start := func(params string) {
		go func() {
			rec, err := s.activate("", act, params, time.Minute)
			if err != nil {
				t.Errorf("activate %s: %v", params, err)
			}
			recs <- rec
		}()
	}
	start(`{"id":"a","sleep":1000}`)
	if !eventually(time.Minute, func() bool { return s.pool.Stats().Busy == 1 }) {
		t.Fatal("a is not running")
	}
	start(`{"id":"b","sleep":10000}`)
	if !eventually(time.Minute, func() bool { return s.pool.Stats().Queued == 1 }) {
		t.Fatalf("b is not queued: %+v", s.pool.Stats())
	}
	for range 2 {
		rec := <-recs
		if rec == nil {
			t.FailNow()
		}
		if !strings.Contains(string(rec.Response.Result), "time limit") && !strings.Contains(string(rec.Response.Result), "timed out") && !rec.Annotations.IsTrue("timeout") {
			continue // a
		}
		if len(rec.Logs) == 0 || !strings.HasSuffix(rec.Logs[0], "stdout: run b") {
			t.Errorf("b timed out with logs %q, want its own line first", rec.Logs)
		}
		return
	}
	t.Error("b did not time out")
}
