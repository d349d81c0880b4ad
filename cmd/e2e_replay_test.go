package gustcmd

import (
	"context"
	"net/http"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// replayed collects the trigger records of rig that are replays, by the
// original's activation id.
func replaysOf(recs []record, trigger string) map[string][]record {
	out := map[string][]record{}
	for _, r := range recs {
		if r.Name == trigger && r.annotation("replayOf") != "" {
			out[r.annotation("replayOf")] = append(out[r.annotation("replayOf")], r)
		}
	}
	return out
}

// TestE2ETriggerReplay: three events fired on a trigger with two rules
// are replayed: --dry-run lists them and runs nothing, --rule runs only
// that rule, once per event, as new trigger activations caused by the
// originals; a full replay runs both rules once more, and replays are not
// replayed again. Bad times are 400s in OpenWhisk's shape.
func TestE2ETriggerReplay(t *testing.T) {
	requireEngine(t)
	dir := t.TempDir()
	g := startGust(t, dir)
	cli := cliEnv(dir)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/a", nodeAction(`function main(p) { return { n: p.n, by: "a" }; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/b", nodeAction(`function main(p) { return { n: p.n, by: "b" }; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/orders", map[string]any{}, nil)
	mustGust(t, cli, "rule", "create", "ra", "orders", "a")
	mustGust(t, cli, "rule", "create", "rb", "orders", "b")
	originals := map[string]bool{}
	for i := range 3 {
		var fired struct{ ActivationID string }
		g.mustCall(t, 202, "POST", "/namespaces/_/triggers/orders", map[string]int{"n": i}, &fired)
		originals[fired.ActivationID] = true
	}
	counts := func(trig, a, b int) func([]record) bool {
		return func(rs []record) bool {
			return countNamed(rs, "orders") == trig && countNamed(rs, "a") == a && countNamed(rs, "b") == b
		}
	}
	g.waitActivations(t, "the original events' activations", counts(3, 3, 3))

	out := mustGust(t, cli, "trigger", "replay", "orders", "--since", "1h", "--dry-run")
	if !strings.Contains(out, "would replay 3 events") {
		t.Errorf("dry run said:\n%s", out)
	}
	for id := range originals {
		if !strings.Contains(out, id) {
			t.Errorf("dry run does not list the original %s:\n%s", id, out)
		}
	}

	out = mustGust(t, cli, "trigger", "replay", "orders", "--since", "1h", "--rule", "ra")
	if !strings.Contains(out, "replayed 3 events") {
		t.Errorf("replay --rule said:\n%s", out)
	}
	recs := g.waitActivations(t, "the replay of rule ra", counts(6, 6, 3))
	byOrig := replaysOf(recs, "orders")
	for id := range originals {
		rs := byOrig[id]
		if len(rs) != 1 || rs[0].Cause != id {
			t.Fatalf("replays of %s: %+v, want one with cause %s", id, rs, id)
		}
		if len(rs[0].Logs) != 1 || !strings.Contains(rs[0].Logs[0], `"rule":"guest/ra"`) {
			t.Errorf("replay of %s with --rule ra ran %v", id, rs[0].Logs)
		}
	}
	causes := map[string]bool{}
	for _, r := range recs {
		if r.Name == "a" {
			causes[r.Cause] = true
		}
	}
	for _, rs := range byOrig {
		if !causes[rs[0].ActivationID] {
			t.Errorf("no activation of a was caused by the replay %s", rs[0].ActivationID)
		}
	}

	// Through the API: the replays stored meanwhile are not replayed.
	var ans struct {
		Replayed []struct{ Original, ActivationID string }
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/triggers/orders/replay", map[string]any{"since": "1h", "until": "30m", "dryRun": true}, &ans)
	if len(ans.Replayed) != 0 {
		t.Fatalf("nothing was stored before 30 minutes ago, yet the dry run lists %+v", ans.Replayed)
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/triggers/orders/replay", map[string]any{"since": "1h", "limit": 2}, &ans)
	if len(ans.Replayed) != 2 {
		t.Fatalf("replay with limit 2 replayed %+v", ans.Replayed)
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/triggers/orders/replay", map[string]any{"since": "1h"}, &ans)
	if len(ans.Replayed) != 3 {
		t.Fatalf("full replay replayed %d events, want the 3 originals: %+v", len(ans.Replayed), ans.Replayed)
	}
	for _, r := range ans.Replayed {
		if !originals[r.Original] {
			t.Errorf("replayed %s, not an original", r.Original)
		}
	}
	g.waitActivations(t, "the full replays", counts(11, 11, 8))

	for _, bad := range []map[string]any{{"since": "yesterday"}, {"since": "-1h"}, {"since": "1h", "until": "2h"}, {"since": "1h", "limit": -1}} {
		var e struct{ Error, Code string }
		g.mustCall(t, http.StatusBadRequest, "POST", "/namespaces/_/triggers/orders/replay", bad, &e)
		if e.Error == "" || e.Code == "" {
			t.Errorf("replay %v: error body %+v", bad, e)
		}
	}
	var e struct{ Error string }
	g.mustCall(t, http.StatusNotFound, "POST", "/namespaces/_/triggers/orders/replay", map[string]any{"since": "1h", "rule": "nope"}, &e)
	g.mustCall(t, http.StatusNotFound, "POST", "/namespaces/_/triggers/nope/replay", map[string]any{"since": "1h"}, &e)
	if out := mustGust(t, cli, "trigger", "replay", "orders", "--dry-run"); !strings.Contains(out, "would replay 3 events") {
		t.Errorf("dry run of all the kept events said:\n%s", out)
	}
	checkRetentionSetting(t, g, cli)
}

// checkRetentionSetting: a namespace's event retention is 7 days by
// default, set and reset with gust namespace retention, and bad values
// are 400s.
func checkRetentionSetting(t *testing.T, g *gustProcess, cli func(string) string) {
	t.Helper()
	if out := mustGust(t, cli, "namespace", "retention"); !strings.Contains(out, "events 168h0m0s (default)") {
		t.Errorf("default retention:\n%s", out)
	}
	if out := mustGust(t, cli, "namespace", "retention", "--events", "72h"); out != "ok: updated the retention of namespace guest\nevents 72h0m0s\n" {
		t.Errorf("set retention:\n%s", out)
	}
	var got struct {
		Namespace     string
		EventsSeconds int64
		Default       bool
	}
	g.mustCall(t, 200, "GET", "/namespaces/_/retention", nil, &got)
	if got.Namespace != "guest" || got.EventsSeconds != 72*3600 || got.Default {
		t.Errorf("retention after set: %+v", got)
	}
	for _, bad := range []string{"1m", "800h", "soon"} {
		var e struct{ Error, Code string }
		g.mustCall(t, http.StatusBadRequest, "PUT", "/namespaces/_/retention", map[string]string{"events": bad}, &e)
		if e.Error == "" {
			t.Errorf("retention %q: %+v", bad, e)
		}
	}
	if out := mustGust(t, cli, "namespace", "retention", "--default"); !strings.Contains(out, "(default)") {
		t.Errorf("reset retention:\n%s", out)
	}
}

// TestE2ERedriveDeadLetters: an event whose rule failed it is
// dead-lettered; once the action is fixed, `gust trigger replay failed`
// (the dead-letter trigger) sends the failed event back to that rule
// alone, as a new trigger activation of the original trigger caused by
// the failed activation, and the dead-letter trigger's own rule does not
// run again.
func TestE2ERedriveDeadLetters(t *testing.T) {
	requireEngine(t)
	dir := t.TempDir()
	g := startGust(t, dir)
	cli := cliEnv(dir)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/flaky", nodeAction(`function main(p) { throw new Error('out of stock: ' + p.order); }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/catch", nodeAction(`function main(p) { return { caught: p.activationId }; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/audit", nodeAction(`function main(p) { return { order: p.order }; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/orders", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/failed", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/onfail", map[string]string{"trigger": "/_/failed", "action": "/_/catch"}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/audit", map[string]string{"trigger": "/_/orders", "action": "/_/audit"}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/ship", map[string]any{"trigger": "/_/orders", "action": "/_/flaky",
		"delivery": map[string]any{"retries": 0, "deadLetter": "/_/failed"}}, nil)
	var fired struct{ ActivationID string }
	g.mustCall(t, 202, "POST", "/namespaces/_/triggers/orders", map[string]int{"order": 17}, &fired)
	recs := g.waitActivations(t, "the dead letter", func(rs []record) bool { return countNamed(rs, "catch") == 1 && countNamed(rs, "audit") == 1 })
	var failedID string
	for _, r := range recs {
		if r.Name == "flaky" {
			failedID = r.ActivationID
		}
	}

	out := mustGust(t, cli, "trigger", "replay", "failed", "--dry-run")
	if !strings.Contains(out, "would replay 1 event ") || !strings.Contains(out, failedID) || !strings.Contains(out, "rule guest/ship") {
		t.Errorf("dry run of the dead letters said:\n%s", out)
	}
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/flaky?overwrite=true", nodeAction(`function main(p) { return { shipped: p.order }; }`), nil)
	out = mustGust(t, cli, "trigger", "replay", "failed")
	if !strings.Contains(out, "replayed 1 event ") {
		t.Errorf("redrive said:\n%s", out)
	}
	recs = g.waitActivations(t, "the redriven event", func(rs []record) bool { return countNamed(rs, "flaky") == 2 })
	var redrive record
	for _, r := range recs {
		if r.Name == "orders" && r.annotation("replayOf") == failedID {
			redrive = r
		}
	}
	if redrive.Cause != failedID || len(redrive.Logs) != 1 || !strings.Contains(redrive.Logs[0], `"rule":"guest/ship"`) {
		t.Fatalf("redrive's trigger activation %+v, want cause %s and rule guest/ship alone", redrive, failedID)
	}
	for _, r := range recs {
		if r.Name == "flaky" && r.ActivationID != failedID &&
			(r.Cause != redrive.ActivationID || !sameJSON(r.Response.Result, `{"shipped":17}`)) {
			t.Errorf("redriven activation %+v, want {shipped:17} caused by %s", r, redrive.ActivationID)
		}
	}
	if n, m := countNamed(recs, "catch"), countNamed(recs, "audit"); n != 1 || m != 1 {
		t.Errorf("%d activations of the dead-letter rule's action and %d of the other rule's, want 1 each", n, m)
	}
}

// TestE2EReplayOneEvent: `gust trigger replay T --activation ID` replays
// the one event stored as trigger activation ID, and a replay can itself be
// replayed by its id; a malformed id is 400, an id that is no event of the
// trigger (unknown, or an action's activation) is 404, in OpenWhisk's shape.
func TestE2EReplayOneEvent(t *testing.T) {
	requireEngine(t)
	dir := t.TempDir()
	g := startGust(t, dir)
	cli := cliEnv(dir)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/a", nodeAction(`function main(p) { return { n: p.n }; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/orders", map[string]any{}, nil)
	mustGust(t, cli, "rule", "create", "ra", "orders", "a")
	var ids []string
	for i := range 2 {
		var fired struct{ ActivationID string }
		g.mustCall(t, 202, "POST", "/namespaces/_/triggers/orders", map[string]int{"n": i}, &fired)
		ids = append(ids, fired.ActivationID)
	}
	counts := func(n int) func([]record) bool {
		return func(rs []record) bool { return countNamed(rs, "orders") == n && countNamed(rs, "a") == n }
	}
	g.waitActivations(t, "the original events' activations", counts(2))

	out := mustGust(t, cli, "trigger", "replay", "orders", "--activation", ids[1])
	if !strings.Contains(out, "replayed 1 event ") || !strings.Contains(out, ids[1]) {
		t.Errorf("replay --activation %s said:\n%s", ids[1], out)
	}
	recs := g.waitActivations(t, "the replay of one event", counts(3))
	byOrig := replaysOf(recs, "orders")
	if len(byOrig) != 1 || len(byOrig[ids[1]]) != 1 || byOrig[ids[1]][0].Cause != ids[1] {
		t.Fatalf("replays by original: %+v, want one of %s", byOrig, ids[1])
	}
	again := byOrig[ids[1]][0].ActivationID

	var ans struct {
		Replayed []struct{ Original, ActivationID string }
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/triggers/orders/replay", map[string]any{"activationId": again, "dryRun": true}, &ans)
	if len(ans.Replayed) != 1 || ans.Replayed[0].Original != again || ans.Replayed[0].ActivationID != "" {
		t.Fatalf("dry run of the replay %s: %+v", again, ans.Replayed)
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/triggers/orders/replay", map[string]any{"activationId": again}, &ans)
	if len(ans.Replayed) != 1 || ans.Replayed[0].Original != again || ans.Replayed[0].ActivationID == "" {
		t.Fatalf("replay of the replay %s: %+v", again, ans.Replayed)
	}
	recs = g.waitActivations(t, "the replay of the replay", counts(4))
	if rs := replaysOf(recs, "orders")[again]; len(rs) != 1 || rs[0].ActivationID != ans.Replayed[0].ActivationID {
		t.Errorf("replays of %s: %+v, want %s", again, rs, ans.Replayed[0].ActivationID)
	}

	var actionID string
	for _, r := range recs {
		if r.Name == "a" {
			actionID = r.ActivationID
		}
	}
	for _, c := range []struct {
		status int
		body   map[string]any
	}{
		{http.StatusBadRequest, map[string]any{"activationId": "nope"}},
		{http.StatusBadRequest, map[string]any{"activationId": ids[0], "since": "1h"}},
		{http.StatusNotFound, map[string]any{"activationId": strings.Repeat("0", 32)}},
		{http.StatusNotFound, map[string]any{"activationId": actionID}},
	} {
		var e struct{ Error, Code string }
		g.mustCall(t, c.status, "POST", "/namespaces/_/triggers/orders/replay", c.body, &e)
		if e.Error == "" || e.Code == "" {
			t.Errorf("replay %v: error body %+v", c.body, e)
		}
	}
	if r := gust(t, cli, "trigger", "replay", "orders", "--activation", strings.Repeat("0", 32)); !strings.Contains(r.message(), "holds no stored event") {
		t.Errorf("replay of an unknown activation: %+v", r)
	}
}

// TestE2EReplayOneUnrecordedEvent: a feed's event that no rule took has no
// trigger activation record, only its id on the stream (listed by a dry
// run); replaying it by that id finds it in the stream and runs the rule
// enabled since.
func TestE2EReplayOneUnrecordedEvent(t *testing.T) {
	g, cli, url := startIngress(t, "r")
	mustGust(t, cli, "rule", "disable", "r")
	c, err := cloudevents.NewClientHTTP(cehttp.WithTarget(url), cehttp.WithHeader("Authorization", "Bearer s3cret-token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evt-1", "evt-2"} {
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetSource("https://sensors.example.com/line-4")
		e.SetType("com.example.temperature")
		_ = e.SetData(cloudevents.ApplicationJSON, map[string]string{"id": id})
		if res := c.Send(context.Background(), e); !cloudevents.IsACK(res) {
			t.Fatalf("send %s: %v", id, res)
		}
	}
	var ans struct {
		Replayed []struct{ Original, ActivationID, EventID string }
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/triggers/inbox/replay", map[string]any{"dryRun": true}, &ans)
	if len(ans.Replayed) != 2 || ans.Replayed[1].EventID != "evt-2" {
		t.Fatalf("dry run lists %+v, want evt-1 and evt-2", ans.Replayed)
	}
	orig := ans.Replayed[1].Original
	var e struct{ Error, Code string }
	g.mustCall(t, http.StatusNotFound, "GET", "/namespaces/_/activations/"+orig, nil, &e)

	mustGust(t, cli, "rule", "enable", "r")
	g.mustCall(t, 200, "POST", "/namespaces/_/triggers/inbox/replay", map[string]any{"activationId": orig}, &ans)
	if len(ans.Replayed) != 1 || ans.Replayed[0].Original != orig || ans.Replayed[0].EventID != "evt-2" {
		t.Fatalf("replay of %s: %+v", orig, ans.Replayed)
	}
	recs := g.waitActivations(t, "the replay's echo", func(rs []record) bool { return countNamed(rs, "echo") == 1 })
	if rs := replaysOf(recs, "inbox")[orig]; len(rs) != 1 || rs[0].ActivationID != ans.Replayed[0].ActivationID {
		t.Fatalf("replays of %s: %+v", orig, rs)
	}
	for _, r := range recs {
		if r.Name == "echo" && (r.Cause != ans.Replayed[0].ActivationID || !strings.Contains(string(r.Response.Result), `"evt-2"`)) {
			t.Errorf("echo %+v: want evt-2, caused by the replay %s", r, ans.Replayed[0].ActivationID)
		}
	}
}
