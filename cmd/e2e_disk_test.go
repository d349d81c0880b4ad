package gustcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/disktest"
)

// echoOnTick creates action echo, which returns its parameter n, trigger
// tick and rule tick-echo, which runs echo on tick.
func echoOnTick(t *testing.T, p *gustProcess) {
	t.Helper()
	p.mustCall(t, http.StatusOK, "PUT", "/namespaces/_/actions/echo", nodeAction(`function main(p) { return { n: p.n } }`), nil)
	p.mustCall(t, http.StatusOK, "PUT", "/namespaces/_/triggers/tick", map[string]any{}, nil)
	p.mustCall(t, http.StatusOK, "PUT", "/namespaces/_/rules/tick-echo", map[string]any{"trigger": "/_/tick", "action": "/_/echo"}, nil)
}

// TestFullDisk runs gust serve on a small disk and fills it: writes get
// 507 with what is full, reads keep working, what was stored stays as it
// was (also across a restart), and writes work again once room is made,
// without a restart.
func TestFullDisk(t *testing.T) {
	requireEngine(t)
	dir := disktest.Small(t, 128)
	p := startGust(t, dir, "--disk-reserve", "32")
	echoOnTick(t, p)
	var rec struct {
		ActivationID string `json:"activationId"`
	}
	p.mustCall(t, http.StatusOK, "POST", "/namespaces/_/actions/echo?blocking=true", map[string]any{"n": 1}, &rec)
	p.mustCall(t, http.StatusAccepted, "POST", "/namespaces/_/triggers/tick", map[string]any{"n": 2}, nil)
	p.waitActivations(t, "the fired event's run", func(rs []record) bool { return countNamed(rs, "echo") == 2 })

	reads := []string{"/namespaces/_/actions/echo", "/namespaces/_/triggers/tick", "/namespaces/_/rules/tick-echo",
		"/namespaces/_/activations/" + rec.ActivationID}
	read := func(p *gustProcess) [][]byte {
		var out [][]byte
		for _, path := range reads {
			var raw json.RawMessage
			p.mustCall(t, http.StatusOK, "GET", path, nil, &raw)
			out = append(out, raw)
		}
		return out
	}
	before := read(p)
	same := func(p *gustProcess, when string) {
		t.Helper()
		for i, got := range read(p) {
			if !bytes.Equal(got, before[i]) {
				t.Errorf("GET %s %s:\n got %s\nwant %s", reads[i], when, got, before[i])
			}
		}
	}

	filler := disktest.Fill(t, dir, 16<<20)
	var refusal struct {
		Error string `json:"error"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.call(t, "POST", "/namespaces/_/triggers/tick", map[string]any{"n": 3}, &refusal) != http.StatusInsufficientStorage {
		if time.Now().After(deadline) {
			t.Fatalf("a fire on a full disk was not refused: %s", refusal.Error)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(refusal.Error, "disk of its data directory") || !strings.Contains(refusal.Error, "is full") {
		t.Errorf("refusal %q does not say the disk is full", refusal.Error)
	}
	t.Logf("refused: %s", refusal.Error)
	for _, w := range []struct{ method, path string }{
		{"POST", "/namespaces/_/actions/echo?blocking=true"},
		{"PUT", "/namespaces/_/actions/other"},
		{"POST", "/namespaces/_/triggers/tick"},
	} {
		if got := p.call(t, w.method, w.path, nodeAction("function main() { return {} }"), nil); got != http.StatusInsufficientStorage {
			t.Errorf("%s %s on a full disk: %d, want 507", w.method, w.path, got)
		}
	}
	same(p, "on a full disk")
	p.mustCall(t, http.StatusOK, "GET", "/namespaces/_/activations?limit=5", nil, nil)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for p.call(t, "POST", "/namespaces/_/triggers/tick", map[string]any{"n": 4}, nil) != http.StatusAccepted {
		if time.Now().After(deadline) {
			t.Fatal("fires still refused once room was made")
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.waitActivations(t, "the run of the event fired once room was made", func(rs []record) bool {
		for _, r := range rs {
			if r.Name == "echo" && sameJSON(r.Response.Result, `{"n":4}`) {
				return true
			}
		}
		return false
	})
	p.mustCall(t, http.StatusOK, "PUT", "/namespaces/_/actions/other", nodeAction("function main() { return {} }"), nil)
	same(p, "once room was made")

	p.stop(t)
	p = startGust(t, dir, "--disk-reserve", "32")
	same(p, "after a restart")
}

// TestDiskRunsOut lets the disk really run out (--disk-reserve 0, so
// nothing stops writes before): JetStream's store fails its write, the
// API answers 507 instead of timing out, and once room is made Gust
// restarts JetStream by itself: fires are taken and run again, and what
// was stored before is still there.
func TestDiskRunsOut(t *testing.T) {
	requireEngine(t)
	dir := disktest.Small(t, 96)
	p := startGust(t, dir, "--disk-reserve", "0")
	echoOnTick(t, p)
	p.mustCall(t, http.StatusAccepted, "POST", "/namespaces/_/triggers/tick", map[string]any{"n": 1}, nil)
	ran := func(n int) func([]record) bool {
		return func(rs []record) bool {
			for _, r := range rs {
				if r.Name == "echo" && sameJSON(r.Response.Result, fmt.Sprintf(`{"n":%d}`, n)) {
					return true
				}
			}
			return false
		}
	}
	p.waitActivations(t, "the first event's run", ran(1))
	// An activation that ends while the disk is full: its record waits
	// for room, and its invocation stays queued meanwhile.
	p.mustCall(t, http.StatusOK, "PUT", "/namespaces/_/actions/slow",
		nodeAction(`function main() { return new Promise(r => setTimeout(() => r({ slow: true }), 4000)) }`), nil)
	p.mustCall(t, http.StatusOK, "POST", "/namespaces/_/actions/slow?blocking=true", map[string]any{}, nil) // warm
	var slow struct {
		ActivationID string `json:"activationId"`
	}
	p.mustCall(t, http.StatusAccepted, "POST", "/namespaces/_/actions/slow", map[string]any{}, &slow)

	filler := disktest.Fill(t, dir, 0)
	var refusal struct {
		Error string `json:"error"`
	}
	status := 0
	for range 20 { // the first write that fails may take its time; the next are refused at once
		if status = p.call(t, "POST", "/namespaces/_/triggers/tick", map[string]any{"n": 2}, &refusal); status == http.StatusInsufficientStorage {
			break
		}
	}
	if status != http.StatusInsufficientStorage || !strings.Contains(refusal.Error, "ran out of space") {
		t.Fatalf("a fire on a disk that ran out: %d %q, want 507 saying so", status, refusal.Error)
	}
	p.mustCall(t, http.StatusOK, "GET", "/namespaces/_/actions/echo", nil, nil)

	// Room is made once the slow activation's record failed to store.
	for deadline := time.Now().Add(3 * time.Minute); !strings.Contains(p.logs.String(), "activation_id="+slow.ActivationID+" attempt=1"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the slow activation's record did not fail to store\n%s", p.logs.String())
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for p.call(t, "POST", "/namespaces/_/triggers/tick", map[string]any{"n": 3}, nil) != http.StatusAccepted {
		if time.Now().After(deadline) {
			t.Fatalf("fires still refused 2 minutes after room was made\n%s", p.logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The rule engine's and the invoker's consumers pick up again once
	// their pulls miss heartbeats, which takes up to a minute.
	accepted := time.Now()
poll:
	for deadline := accepted.Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		var recs []record
		// 503: the list timed out while JetStream was still recovering.
		switch code := p.call(t, "GET", "/namespaces/_/activations?docs=true&limit=200", nil, &recs); code {
		case http.StatusOK:
			if ran(3)(recs) {
				break poll
			}
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("listing activations once room was made: %d\n%s", code, p.logs.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event fired once room was made did not run in 3 minutes\n%s", p.logs.String())
		}
	}
	t.Logf("the event fired once room was made ran %v after it was accepted", time.Since(accepted).Round(time.Second))
	p.mustCall(t, http.StatusOK, "POST", "/namespaces/_/actions/echo?blocking=true", map[string]any{"n": 4}, nil)
	var rec record
	for deadline := time.Now().Add(2 * time.Minute); p.call(t, "GET", "/namespaces/_/activations/"+slow.ActivationID, nil, &rec) != http.StatusOK; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the record of the activation that ended on a full disk was not stored once room was made\n%s", p.logs.String())
		}
	}
	if !sameJSON(rec.Response.Result, `{"slow":true}`) {
		t.Errorf("the record of the activation that ended on a full disk: %s", rec.Response.Result)
	}
	if !strings.Contains(p.logs.String(), "JetStream restarted") {
		t.Error("serve did not log that JetStream restarted")
	}
}
