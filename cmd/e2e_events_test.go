package gustcmd

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestE2EEventsTailTellsHowActionsEnded: `gust events tail` against a real
// serve shows each activated rule queued (…) and then how its action
// ended: ✓ a success, ✗ an application error with its message, ↻ a failed
// attempt of a rule with a delivery policy that is tried again, and the
// last attempt's ✗ with the dead-letter hand-off, whose own trigger's rule
// then runs.
func TestE2EEventsTailTellsHowActionsEnded(t *testing.T) {
	g, cli := startE2E(t)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/ok", nodeAction(`function main(p) { return {ok: true}; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/bad", nodeAction(`function main(p) { return {error: 'card declined'}; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/flaky", nodeAction(`function main(p) { throw new Error('out of stock'); }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/catch", nodeAction(`function main(p) { return {}; }`), nil)
	for _, tr := range []string{"orders", "failed"} {
		g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/"+tr, map[string]any{}, nil)
	}
	for rule, action := range map[string]string{"r-ok": "ok", "r-bad": "bad"} {
		g.mustCall(t, 200, "PUT", "/namespaces/_/rules/"+rule, map[string]string{"trigger": "/_/orders", "action": "/_/" + action}, nil)
	}
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/onfail", map[string]string{"trigger": "/_/failed", "action": "/_/catch"}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/r-flaky", map[string]any{"trigger": "/_/orders", "action": "/_/flaky",
		"delivery": map[string]any{"retries": 1, "backoff": "100ms", "deadLetter": "/_/failed"}}, nil)

	stdout, stop := tailCLI(t, cli, "events", "tail")
	mustGust(t, cli, "trigger", "fire", "orders")
	// The dead letter's rule runs last.
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(stdout.String(), "✓ guest/onfail → guest/catch") {
		if time.Now().After(deadline) {
			t.Fatalf("no result of the dead letter's rule in:\n%s", stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("tail: %v", err)
	}
	got := stamp.ReplaceAllString(stdout.String(), "TIME ")
	id := `[0-9a-f]{32}`
	for _, want := range []string{
		`(?m)^  … guest/r-bad → guest/bad ` + id + `$`,
		`(?m)^  … guest/r-flaky → guest/flaky ` + id + `$`,
		`(?m)^  … guest/r-ok → guest/ok ` + id + `$`,
		`(?m)^TIME guest/orders ✓ guest/r-ok → guest/ok ` + id + ` success$`,
		`(?m)^TIME guest/orders ✗ guest/r-bad → guest/bad ` + id + ` application error: card declined$`,
		`(?m)^TIME guest/orders ↻ guest/r-flaky → guest/flaky ` + id + ` attempt 1 action developer error: .*out of stock; retry in 100ms as ` + id + `$`,
		`(?m)^TIME guest/orders ✗ guest/r-flaky → guest/flaky ` + id + ` attempt 2 action developer error: .*out of stock; dead-lettered to guest/failed$`,
		`(?m)^TIME guest/failed dev.gust.rule.deadletter from /namespaces/guest/rules/r-flaky, id ` + id + `\n  … guest/onfail → guest/catch ` + id + `$`,
		`(?m)^TIME guest/failed ✓ guest/onfail → guest/catch ` + id + ` success$`,
	} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("no line matching %s in:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "✗"); n != 2 {
		t.Errorf("%d failures shown, want 2:\n%s", n, got)
	}
}
