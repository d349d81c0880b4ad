package gustcmd

import (
	"net/http"
	"strings"
	"testing"
)

// TestE2EActivationRerun: `gust activation rerun ID` invokes the action
// of an activation again with the parameters it was invoked with (an
// invoke's and a rule's), as a new activation whose cause and annotation
// rerunOf name the original; a trigger activation is refused with 400.
func TestE2EActivationRerun(t *testing.T) {
	g, cli := startE2E(t)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/echo", nodeAction(`function main(p) { return { got: p }; }`), nil)
	var first record
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/echo?blocking=true", map[string]any{"name": "Ada", "n": 7}, &first)

	out := mustGust(t, cli, "activation", "rerun", first.ActivationID, "--result")
	if !strings.Contains(out, `"name": "Ada"`) || !strings.Contains(out, `"n": 7`) {
		t.Errorf("rerun --result printed:\n%s", out)
	}
	var again record
	g.mustCall(t, 200, "POST", "/namespaces/_/activations/"+first.ActivationID+"/rerun?blocking=true", nil, &again)
	if again.ActivationID == first.ActivationID || again.Cause != first.ActivationID || again.annotation("rerunOf") != first.ActivationID ||
		!sameJSON(again.Response.Result, string(first.Response.Result)) {
		t.Errorf("rerun %+v (result %s), want a new activation caused by %s with result %s",
			again, again.Response.Result, first.ActivationID, first.Response.Result)
	}

	// An activation a rule caused is run again with the event's data.
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/t", map[string]any{}, nil)
	mustGust(t, cli, "rule", "create", "r", "t", "echo")
	var fired struct{ ActivationID string }
	g.mustCall(t, 202, "POST", "/namespaces/_/triggers/t", map[string]string{"city": "Lyon"}, &fired)
	var byRule record
	g.waitActivations(t, "the rule's activation", func(rs []record) bool {
		for _, r := range rs {
			if r.Name == "echo" && r.Cause == fired.ActivationID {
				byRule = r
				return true
			}
		}
		return false
	})
	g.mustCall(t, 200, "POST", "/namespaces/_/activations/"+byRule.ActivationID+"/rerun?blocking=true", nil, &again)
	if again.Cause != byRule.ActivationID || !sameJSON(again.Response.Result, string(byRule.Response.Result)) || !strings.Contains(string(again.Response.Result), "Lyon") {
		t.Errorf("rerun of the rule's activation: %s, want %s", again.Response.Result, byRule.Response.Result)
	}

	// A sequence runs again from its first component with its parameters.
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/twice", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/_/echo", "/_/echo"}}}, nil)
	var seq record
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/twice?blocking=true", map[string]string{"k": "v"}, &seq)
	g.mustCall(t, 200, "POST", "/namespaces/_/activations/"+seq.ActivationID+"/rerun?blocking=true", nil, &again)
	if again.Name != "twice" || again.Cause != seq.ActivationID || !sameJSON(again.Response.Result, string(seq.Response.Result)) {
		t.Errorf("rerun of the sequence: %s %s, want %s", again.Name, again.Response.Result, seq.Response.Result)
	}

	var e struct{ Error, Code string }
	g.mustCall(t, http.StatusBadRequest, "POST", "/namespaces/_/activations/"+fired.ActivationID+"/rerun", nil, &e)
	if !strings.Contains(e.Error, "trigger") || e.Code == "" {
		t.Errorf("rerun of a trigger activation: %+v", e)
	}
	g.mustCall(t, http.StatusNotFound, "POST", "/namespaces/_/activations/00000000000000000000000000000000/rerun", nil, &e)
	g.mustCall(t, http.StatusBadRequest, "POST", "/namespaces/_/activations/nope/rerun", nil, &e)
}
