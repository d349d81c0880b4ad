package invoker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// queuedCode reports when it ran and its deadline; after "sleep"
// milliseconds it exits the process ("exit") or returns a result that is
// not a dictionary ("bad").
const queuedCode = `let n = 0;
function main(p) {
  n++;
  console.log('run ' + p.id);
  const out = { n: n, host: require('os').hostname(), id: p.id, start: Date.now(), deadline: Number(process.env.__OW_DEADLINE) };
  const done = () => {
    out.end = Date.now();
    if (p.exit) process.exit(1);
    return p.bad ? 'not a dictionary' : out;
  };
  if (!p.sleep) return done();
  return new Promise(res => setTimeout(() => res(done()), p.sleep));
}`

type queuedResult struct {
	N        int    `json:"n"`
	Host     string `json:"host"`
	ID       string `json:"id"`
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
	Deadline int64  `json:"deadline"`
}

// TestQueuedRun queues an activation (b) at the proxy of the container
// where another (a) runs, as the invoker does for short runs, and checks
// what it gets: its time limit and deadline start when it starts, its
// logs are its own, and when a fails, b runs once, in a's process if that
// lives on, else elsewhere.
func TestQueuedRun(t *testing.T) {
	// Room for one container: b finds no other free.
	s := newStack(t, stackOptions{pool: invokerPool(actions.DefaultMemoryMB)})
	const timeout = 4000
	for _, tc := range []struct {
		name         string
		a, b         string // parameters
		aStatus      int
		sameProcess  bool // b ran in a's process
		aTimedOut    bool
		destroyAfter bool // a's container is removed once b is done
	}{
		// b runs 3 s after it was queued and 2.5 s more: beyond its 4 s
		// limit if that had started when it was sent.
		{name: "time-limit", a: `{"id":"a","sleep":3000}`, b: `{"id":"b","sleep":2500}`,
			aStatus: actions.StatusSuccess, sameProcess: true},
		{name: "ahead-exits", a: `{"id":"a","sleep":3000,"exit":true}`, b: `{"id":"b"}`,
			aStatus: actions.StatusDeveloperError},
		{name: "ahead-times-out", a: `{"id":"a","sleep":10000}`, b: `{"id":"b"}`,
			aStatus: actions.StatusDeveloperError, aTimedOut: true},
		// A result that is not a dictionary fails a's container, but
		// leaves its process to run b.
		{name: "ahead-fails", a: `{"id":"a","sleep":3000,"bad":true}`, b: `{"id":"b"}`,
			aStatus: actions.StatusDeveloperError, sameProcess: true, destroyAfter: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			act := s.put(t, action{name: "queued-" + tc.name, code: queuedCode, limits: func(l *actions.Limits) { l.Timeout = timeout }})
			var first queuedResult
			for i := range 10 { // short runs: the pool queues the next ones
				result(t, s.invoke(t, "", act, fmt.Sprintf(`{"id":"w%d"}`, i)), &first)
			}
			recs := make(chan *actions.Activation, 2)
			start := func(params string) { s.activateAsync(t, act, params, recs) }
			start(tc.a)
			if !eventually(time.Minute, func() bool { return s.pool.Stats().Busy == 1 }) {
				t.Fatal("a is not running")
			}
			start(tc.b)
			if !eventually(time.Minute, func() bool { return s.pool.Stats().Queued == 1 }) {
				t.Fatalf("b is not queued: %+v", s.pool.Stats())
			}
			byID := map[string]*actions.Activation{}
			for range 2 {
				rec := <-recs
				if rec == nil {
					t.FailNow()
				}
				var who struct {
					ID string `json:"id"`
				}
				if strings.Contains(string(rec.Response.Result), `"b"`) {
					who.ID = "b"
				} else {
					who.ID = "a"
				}
				byID[who.ID] = rec
			}
			a, b := byID["a"], byID["b"]
			if a == nil || b == nil {
				t.Fatalf("records %v", byID)
			}
			if a.Response.StatusCode != tc.aStatus || a.Annotations.IsTrue("timeout") != tc.aTimedOut {
				t.Errorf("a: status %d, timeout %t, result %s; want %d, %t", a.Response.StatusCode,
					a.Annotations.IsTrue("timeout"), a.Response.Result, tc.aStatus, tc.aTimedOut)
			}
			var br queuedResult
			result(t, b, &br)
			if br.ID != "b" {
				t.Errorf("b's record is %+v", br)
			}
			if ran := br.Host == first.Host; ran != tc.sameProcess || tc.sameProcess && br.N != first.N+2 || !tc.sameProcess && br.N != 1 {
				t.Errorf("b ran in %s as its process's activation %d; a's container is %s, where it was %d: want b in the same process %t",
					br.Host, br.N, first.Host, first.N+2, tc.sameProcess)
			}
			if a.Response.StatusCode == actions.StatusSuccess {
				// The proxy gave b its time once a had ended.
				var ar queuedResult
				result(t, a, &ar)
				if b.Start < ar.End || br.Deadline < ar.End+timeout {
					t.Errorf("b: record starts %d, deadline %d; a ended %d: want both after a's end, the deadline its %d ms later",
						b.Start, br.Deadline, ar.End, timeout)
				}
			}
			for _, c := range []struct {
				id  string
				rec *actions.Activation
			}{{"a", a}, {"b", b}} {
				if len(c.rec.Logs) != 1 || !strings.HasSuffix(c.rec.Logs[0], "stdout: run "+c.id) {
					t.Errorf("%s's logs: %q", c.id, c.rec.Logs)
				}
			}
			if tc.destroyAfter && !eventually(time.Minute, func() bool { return !hasContainer(s.containers(t), first.Host) }) {
				t.Errorf("a's container %s is still there", first.Host)
			}
		})
	}
}

// activateAsync activates a with params and sends its record, nil if it
// failed, on recs.
func (s *stack) activateAsync(t *testing.T, a *actions.Action, params string, recs chan<- *actions.Activation) {
	go func() {
		rec, err := s.activate("", a, params, time.Minute)
		if err != nil || rec == nil {
			t.Errorf("activate %s: %v", params, err)
		}
		recs <- rec
	}()
}
