package gustcmd

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

// End-to-end tests of what Gust adds to OpenWhisk's rules — delivery
// policies, dead letters, the hop limit — and of the API key that a rule's
// action gets, through the API with real Docker.

// withAnnotations is an action body with annotations added.
func withAnnotations(action map[string]any, kv ...any) map[string]any {
	var anns []map[string]any
	for i := 0; i+1 < len(kv); i += 2 {
		anns = append(anns, map[string]any{"key": kv[i], "value": kv[i+1]})
	}
	action["annotations"] = anns
	return action
}

// TestE2ERetriesThenDeadLetter: a rule with a delivery policy runs an
// action that fails with a developer error once and then twice more, and
// then the rule of its dead-letter trigger gets a CloudEvent that
// describes the failure.
func TestE2ERetriesThenDeadLetter(t *testing.T) {
	requireEngine(t)
	g := startGust(t, t.TempDir())
	// A thrown error is a developer error: retried, in a new container.
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/flaky?overwrite=false",
		nodeAction(`function main(p) { throw new Error('out of stock: order ' + p.order); }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/catch?overwrite=false", nodeAction(`function main(p) { return p; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/orders?overwrite=false", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/failed?overwrite=false", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/onfail?overwrite=false", map[string]string{"trigger": "/_/failed", "action": "/_/catch"}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/ship?overwrite=false", map[string]any{"trigger": "/_/orders", "action": "/_/flaky",
		"delivery": map[string]any{"retries": 2, "backoff": "100ms", "deadLetter": "/_/failed"}}, nil)

	var fired struct{ ActivationID string }
	g.mustCall(t, 202, "POST", "/namespaces/_/triggers/orders", `{"order":17}`, &fired,
		"ce-specversion", "1.0", "ce-id", "order-17", "ce-source", "/shop", "ce-type", "com.example.order.placed")

	var dead record
	recs := g.waitActivations(t, "the dead letter's activation", func(rs []record) bool {
		for _, r := range rs {
			if r.Name == "catch" {
				dead = r
				return true
			}
		}
		return false
	})
	// The dead letter comes after the last attempt: all are recorded.
	var attempts []record
	for _, r := range recs {
		if r.Name == "flaky" {
			attempts = append(attempts, r)
		}
	}
	if len(attempts) != 3 {
		t.Fatalf("%d activations of the failing action, want 3 (one and two retries)", len(attempts))
	}
	for _, r := range attempts {
		if r.Response.Status != "action developer error" || r.Cause != fired.ActivationID {
			t.Errorf("attempt %s: status %q, cause %q; want a developer error caused by %s", r.ActivationID, r.Response.Status, r.Cause, fired.ActivationID)
		}
	}
	last := attempts[0] // newest first
	// The event's tree shows the three attempts under the rule, in order.
	var tree actions.TreeNode
	g.mustCall(t, 200, "GET", "/namespaces/_/activations/"+fired.ActivationID+"/tree", nil, &tree)
	var ship *actions.TreeNode
	for _, c := range tree.Children {
		if c.Kind == actions.NodeRule && c.Name == "guest/ship" {
			ship = c
		}
	}
	if ship == nil || len(ship.Children) != 3 {
		t.Fatalf("tree %+v: want rule guest/ship with 3 attempts", tree)
	}
	for i, c := range ship.Children {
		if c.Attempt != i+1 || c.ActivationID != attempts[2-i].ActivationID || c.Success {
			t.Errorf("tree attempt %d: %+v, want attempt %d, %s, failed", i, c, i+1, attempts[2-i].ActivationID)
		}
	}
	const failure = "An error has occurred: Error: out of stock: order 17"
	if !sameJSON(last.Response.Result, `{"error":"`+failure+`"}`) {
		t.Fatalf("last attempt's result %s", last.Response.Result)
	}

	var got struct {
		rules.DeadLetter
		Attributes map[string]any `json:"__event"`
	}
	if err := json.Unmarshal(dead.Response.Result, &got); err != nil {
		t.Fatalf("dead letter action's result %s: %v", dead.Response.Result, err)
	}
	if got.Rule != "guest/ship" || got.Action != "guest/flaky" || got.ActivationID != last.ActivationID ||
		got.Attempts != 3 || got.StatusCode != 2 || got.Error != failure {
		t.Errorf("dead letter %+v, want rule guest/ship, action guest/flaky, the last attempt %s, 3 attempts, status 2, error %q",
			got.DeadLetter, last.ActivationID, failure)
	}
	var original map[string]any
	if err := json.Unmarshal(got.Event, &original); err != nil {
		t.Fatal(err)
	}
	if original["id"] != "order-17" || original["source"] != "/shop" || original["type"] != "com.example.order.placed" ||
		!sameJSON(mustMarshal(t, original["data"]), `{"order":17}`) {
		t.Errorf("dead letter's original event %s", got.Event)
	}
	if got.Attributes["type"] != rules.DeadLetterType || got.Attributes["source"] != "/namespaces/guest/rules/ship" ||
		got.Attributes["subject"] != last.ActivationID || got.Attributes[hub.HopsExtension] != "1" {
		t.Errorf("dead letter's attributes %v", got.Attributes)
	}

	// /metrics counts the retries and the dead letter of rule ship.
	metricsURL := strings.TrimSuffix(g.base, "/api/v1") + MetricsPath
	deadline := time.Now().Add(30 * time.Second)
	for {
		fams := scrape(t, metricsURL)
		retried, _ := metricSum(fams, "gust_rule_outcomes_total", map[string]string{"trigger": "guest/orders", "outcome": rules.OutcomeRetried})
		dl, _ := metricSum(fams, "gust_rule_outcomes_total", map[string]string{"trigger": "guest/orders", "outcome": rules.OutcomeDeadLettered})
		failedRuns, _ := metricSum(fams, "gust_activations_total", map[string]string{"namespace": "guest", "status": "developer_error"})
		if retried == 2 && dl == 1 && failedRuns == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: %v retried, %v dead_lettered, %v developer errors; want 2, 1, 3", retried, dl, failedRuns)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustMarshal(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loopCode fires the trigger that invoked it, passing on the hop count as
// hub.HopsExtension asks, and returns what the API answered.
const loopCode = `async function main(p) {
  const hops = Number((p.__event || {}).gusthops || 0);
  const res = await fetch(process.env.__OW_API_HOST + '/api/v1/namespaces/_/triggers/loop', {
    method: 'POST',
    headers: {
      'Authorization': 'Basic ' + Buffer.from(process.env.__OW_API_KEY).toString('base64'),
      'Content-Type': 'application/json',
      'ce-specversion': '1.0', 'ce-id': 'loop-' + (hops + 1), 'ce-source': '/loop', 'ce-type': 'dev.gust.test.loop',
      'ce-gusthops': String(hops + 1),
    },
    body: JSON.stringify({ n: hops + 1 }),
  });
  return { hops: hops, status: res.status, answer: await res.json() };
}`

// TestE2EHopLimit: an action that fires the trigger that invoked it (with
// the key the rule gave it) runs HopLimit+1 times; its last fire is
// refused with an error that says why.
func TestE2EHopLimit(t *testing.T) {
	// The action calls Gust's API. Tests reach only loopback addresses, and
	// a container cannot reach the host's 127.0.0.1, so this action runs in
	// the process sandbox, where __OW_API_HOST (127.0.0.1) is reachable.
	g := startGust(t, t.TempDir(), "--sandbox", "process")
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/bounce?overwrite=false", withAnnotations(nodeAction(loopCode), "provide-api-key", true), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/loop?overwrite=false", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/again?overwrite=false", map[string]string{"trigger": "/_/loop", "action": "/_/bounce"}, nil)
	g.mustCall(t, 202, "POST", "/namespaces/_/triggers/loop", `{"n":0}`, nil,
		"ce-specversion", "1.0", "ce-id", "loop-0", "ce-source", "/loop", "ce-type", "dev.gust.test.loop")

	type loopResult struct {
		Hops   int
		Status int
		Answer map[string]any
	}
	results := map[int]loopResult{}
	// An activation's record may be stored after the one it caused.
	g.waitActivations(t, "every hop's activation", func(rs []record) bool {
		clear(results)
		for _, r := range rs {
			var res loopResult
			if r.Name == "bounce" && json.Unmarshal(r.Response.Result, &res) == nil {
				results[res.Hops] = res
			}
		}
		return len(results) == hub.HopLimit+1 && results[hub.HopLimit].Status != 0
	})
	for hops := 0; hops < hub.HopLimit; hops++ {
		if results[hops].Status != http.StatusAccepted {
			t.Errorf("fire with gusthops=%d: %+v, want 202", hops+1, results[hops])
		}
	}
	refused := results[hub.HopLimit]
	const want = "Event exceeded the hop limit of 10 (gusthops=11): a rule's action probably fires the trigger that invoked it."
	if refused.Status != http.StatusBadRequest || refused.Answer["error"] != want {
		t.Errorf("fire over the hop limit: %+v, want 400 %q", refused, want)
	}
	// The refused fire stored no event: nothing ran after it.
	var n struct{ Activations int }
	g.mustCall(t, 200, "GET", "/namespaces/_/activations?name=bounce&count=true", nil, &n)
	if n.Activations != hub.HopLimit+1 {
		t.Errorf("%d activations of the looping action, want %d", n.Activations, hub.HopLimit+1)
	}
}

// TestE2ERuleActionAPIKey: an action a rule invokes gets the key the
// trigger was fired with as __OW_API_KEY when it is annotated
// provide-api-key, as OpenWhisk's; other actions do not get it.
func TestE2ERuleActionAPIKey(t *testing.T) {
	requireEngine(t)
	g := startGust(t, t.TempDir())
	const code = `function main() { return { key: process.env.__OW_API_KEY || null }; }`
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/withkey?overwrite=false", withAnnotations(nodeAction(code), "provide-api-key", true), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/nokey?overwrite=false", nodeAction(code), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/t?overwrite=false", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/r1?overwrite=false", map[string]string{"trigger": "/_/t", "action": "/_/withkey"}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/r2?overwrite=false", map[string]string{"trigger": "/_/t", "action": "/_/nokey"}, nil)
	g.mustCall(t, 202, "POST", "/namespaces/_/triggers/t", `{}`, nil)
	recs := g.waitActivations(t, "both rules' activations", func(rs []record) bool {
		return countNamed(rs, "withkey") == 1 && countNamed(rs, "nokey") == 1
	})
	for _, r := range recs {
		want := map[string]string{"withkey": `{"key":"` + api.DevGuestKey + `"}`, "nokey": `{"key":null}`}[r.Name]
		if want != "" && !sameJSON(r.Response.Result, want) {
			t.Errorf("%s: result %s, want %s", r.Name, r.Response.Result, want)
		}
	}
}
