package gustcmd

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestE2EThrottles runs two API servers on one NATS, as a deployment with
// split roles does (the second a controller on the first's NATS), sets a
// namespace's throttles with the CLI, and sees them hold across both: 429
// at the limit and not before, and a concurrency slot given back when its
// activation completes, whichever process took it.
func TestE2EThrottles(t *testing.T) {
	skipShort(t)
	natsAddr := freeAddr(t)
	dirA := t.TempDir()
	a := startGust(t, dirA, "--sandbox", "process", "--nats-listen", natsAddr)
	b := startGust(t, t.TempDir(), "--sandbox", "process", "--nats", "nats://"+natsAddr, "--role", "controller")
	cli := func(args ...string) cliResult {
		t.Helper()
		return gust(t, func(k string) string {
			if k == "GUST_CONFIG" {
				return filepath.Join(dirA, dataDirConfig)
			}
			return ""
		}, args...)
	}

	cli("namespace", "limits", "guest", "--concurrent", "1").check(t, "ok: updated the limits of namespace guest: concurrentInvocations set to 1\n"+
		"invocationsPerMinute   no limit\nconcurrentInvocations  1 (was no limit)\nfiresPerMinute         no limit\n", "", 0)
	cli("namespace", "limits", "nobody", "--concurrent", "1").check(t, "", "The requested resource does not exist.", 404&0xff)

	const slow = `function main() { return new Promise(r => setTimeout(() => r({done: true}), 1500)); }`
	a.mustCall(t, 200, "PUT", "/namespaces/_/actions/slow", nodeAction(slow), nil)
	a.mustCall(t, 200, "PUT", "/namespaces/_/actions/hello", nodeAction(helloCode), nil)
	a.mustCall(t, 200, "PUT", "/namespaces/_/triggers/t", map[string]any{}, nil)
	a.mustCall(t, 200, "PUT", "/namespaces/_/actions/seq", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/guest/hello", "/guest/hello"}}}, nil)

	t.Run("concurrent", func(t *testing.T) {
		a.mustCall(t, http.StatusAccepted, "POST", "/namespaces/_/actions/slow", nil, nil)
		wantTooMany(t, b, "/namespaces/_/actions/slow", "Too many concurrent requests in flight (count: 1, allowed: 1).")
		a.waitActivations(t, "the slow activation", func(rs []record) bool { return countNamed(rs, "slow") == 1 })
		// The invoker gave the slot back: a blocking invoke through the
		// other server runs, and gives it back in turn.
		b.mustCall(t, http.StatusOK, "POST", "/namespaces/_/actions/slow?blocking=true", nil, nil)
		// A sequence holds one slot, given back when its last component ends.
		a.mustCall(t, http.StatusOK, "POST", "/namespaces/_/actions/seq?blocking=true", map[string]any{"name": "Ada"}, nil)
		b.mustCall(t, http.StatusAccepted, "POST", "/namespaces/_/actions/slow", nil, nil)
	})

	cli("namespace", "limits", "guest", "--concurrent", "1000", "--invocations-per-minute", "4", "--fires-per-minute", "3").check(t,
		"ok: updated the limits of namespace guest: invocationsPerMinute set to 4, concurrentInvocations set to 1000, firesPerMinute set to 3\n"+
			"invocationsPerMinute   4 (was no limit)\nconcurrentInvocations  1000 (was 1)\nfiresPerMinute         3 (was no limit)\n", "", 0)
	cli("namespace", "limits", "guest").check(t, "invocationsPerMinute   4\nconcurrentInvocations  1000\nfiresPerMinute         3\n", "", 0)
	// The other server reads the change within the 2 s it keeps limits.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var limits map[string]any
		b.mustCall(t, http.StatusOK, "GET", "/namespaces/_/limits", nil, &limits)
		if limits["invocationsPerMinute"] == 4.0 && limits["firesPerMinute"] == 3.0 && limits["concurrentInvocations"] == 1000.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second server's limits after 10 s: %v", limits)
		}
		time.Sleep(100 * time.Millisecond)
	}
	awayFromMinuteEnd(t)
	for _, tc := range []struct {
		name, path string
		allowed    int
		ok         int
		msg        string
	}{
		{"invocations per minute", "/namespaces/_/actions/hello", 4, http.StatusAccepted, "Too many requests in the last minute (count: 5, allowed: 4)."},
		{"fires per minute", "/namespaces/_/triggers/t", 3, http.StatusNoContent, "Too many requests in the last minute (count: 4, allowed: 3)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.allowed {
				[]*gustProcess{a, b}[i%2].mustCall(t, tc.ok, "POST", tc.path, map[string]any{"name": "Ada"}, nil)
			}
			wantTooMany(t, []*gustProcess{a, b}[tc.allowed%2], tc.path, tc.msg)
		})
	}

	// Removing the limits lets the namespace go on, on the other server
	// too once it reads them again.
	cli("namespace", "limits", "guest", "--clear", "invocations-per-minute,fires-per-minute").check(t,
		"ok: updated the limits of namespace guest: invocationsPerMinute back to the deployment's default, firesPerMinute back to the deployment's default\n"+
			"invocationsPerMinute   no limit (was 4)\nconcurrentInvocations  1000\nfiresPerMinute         no limit (was 3)\n", "", 0)
	a.mustCall(t, http.StatusAccepted, "POST", "/namespaces/_/actions/hello", map[string]any{"name": "Ada"}, nil)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if got := b.call(t, "POST", "/namespaces/_/triggers/t", nil, nil); got == http.StatusNoContent {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the second server still answers a fire %d 10 s after the limit was removed", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantTooMany posts to path on g and wants 429 with message msg.
func wantTooMany(t *testing.T, g *gustProcess, path, msg string) {
	t.Helper()
	var body map[string]any
	if got := g.call(t, "POST", path, nil, &body); got != http.StatusTooManyRequests || body["error"] != msg {
		t.Errorf("POST %s: %d %v, want 429 %q", path, got, body, msg)
	}
}

// awayFromMinuteEnd waits for the next minute when the current one has
// less than 20 s left, so that counts in one-minute windows do not start
// over in the middle of a test.
func awayFromMinuteEnd(t *testing.T) {
	now := time.Now()
	if left := now.Truncate(time.Minute).Add(time.Minute).Sub(now); left < 20*time.Second {
		t.Logf("waiting %v for the next minute", left)
		time.Sleep(left)
	}
}
