package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/rules"
)

// treeID is the activation id n of the tree test's records.
func treeID(n byte) string { return "7e0e0000000000000000000000000000"[:31] + string(n) }

// putTreeRecords stores, as the rules engine and the invoker write them, a
// trigger activation whose rules ran an action (cold), a sequence of two
// components (the second failing), a missing action, an action whose
// record is not stored yet and an action that failed twice (the second
// time with no container) and worked on its rule's third attempt. It returns the trigger activation's id.
func putTreeRecords(t *testing.T, e *env) string {
	t.Helper()
	line := func(v map[string]any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	action := func(id, path, kind string, code int, cause string, logs ...string) *actions.Activation {
		ann := actions.KeyValues{}.Set("path", "guest/"+path).Set("kind", kind).Set("waitTime", 2)
		switch {
		case path == "hello":
			ann = ann.Set("initTime", 40)
		case code == actions.StatusDeveloperError:
			ann = ann.Set(actions.NoContainerAnnotation, true)
		}
		return &actions.Activation{Namespace: "guest", Name: path, Version: "0.0.1", Subject: "guest",
			ActivationID: id, Cause: cause, Start: recordStart + 100, End: recordStart + 130, Duration: 30,
			Response: actions.Response{StatusCode: code, Result: json.RawMessage(`{}`)}, Logs: logs, Annotations: ann}
	}
	attempt := func(n int) string { return rules.AttemptID(treeID('f'), "guest/r5", n) }
	seq := action(treeID('b'), "chain", actions.KindSequence, actions.StatusApplicationError, treeID('f'), treeID('1'), treeID('2'))
	recs := []*actions.Activation{
		{Namespace: "guest", Name: "tick", Version: "0.0.1", Subject: "guest", ActivationID: treeID('f'), Start: recordStart,
			Response:    actions.Response{Result: json.RawMessage(`{"n":1}`)},
			Annotations: actions.KeyValues{}.Set("path", "guest/tick"),
			Logs: []string{
				line(map[string]any{"statusCode": 0, "success": true, "activationId": treeID('a'), "rule": "guest/r1", "action": "guest/hello"}),
				line(map[string]any{"statusCode": 0, "success": true, "activationId": treeID('b'), "rule": "guest/r2", "action": "guest/chain"}),
				line(map[string]any{"statusCode": 1, "success": false, "rule": "guest/r3", "action": "guest/gone", "error": "The requested resource does not exist."}),
				line(map[string]any{"statusCode": 0, "success": true, "activationId": treeID('c'), "rule": "guest/r4", "action": "guest/slow"}),
				line(map[string]any{"statusCode": 0, "success": true, "activationId": attempt(1), "rule": "guest/r5", "action": "guest/flaky"}),
			}},
		action(attempt(1), "flaky", "nodejs:20", actions.StatusApplicationError, treeID('f'), "stderr: try 1 failed"),
		action(attempt(2), "flaky", "nodejs:20", actions.StatusDeveloperError, treeID('f'), "stderr: try 2 failed"),
		action(attempt(3), "flaky", "nodejs:20", actions.StatusSuccess, treeID('f'), "stdout: try 3 worked"),
		action(attempt(4), "flaky", "nodejs:20", actions.StatusSuccess, treeID('f'), "stdout: not an attempt: the third worked"),
		action(treeID('a'), "hello", "nodejs:20", 0, treeID('f'), "2024-01-01T00:00:00.000000000Z stdout: hello"),
		seq,
		action(treeID('1'), "first", "python:3", 0, treeID('b'), "2024-01-01T00:00:00.000000000Z stdout: one"),
		action(treeID('2'), "second", "python:3", actions.StatusApplicationError, treeID('b'), "2024-01-01T00:00:00.000000000Z stderr: boom"),
	}
	for _, a := range recs {
		if err := e.activations.Put(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	return treeID('f')
}

func TestActivationTree(t *testing.T) {
	e := newEnv(t)
	trigger := putTreeRecords(t, e)

	t.Run("trigger", func(t *testing.T) {
		golden(t, "activation_tree", e.must("GET", "/api/v1/namespaces/_/activations/"+trigger+"/tree", "").body)
	})
	t.Run("sequence", func(t *testing.T) {
		var n actions.TreeNode
		if err := json.Unmarshal(e.must("GET", "/api/v1/namespaces/guest/activations/"+treeID('b')+"/tree", "").body, &n); err != nil {
			t.Fatal(err)
		}
		if n.Kind != actions.NodeSequence || len(n.Children) != 2 || n.Children[1].Success || n.Children[1].Logs[0] != "2024-01-01T00:00:00.000000000Z stderr: boom" {
			t.Errorf("sequence tree %+v", n)
		}
	})
	for _, tc := range []struct {
		name, path string
		status     int
		msg        string
	}{
		{"not an id", "/api/v1/namespaces/_/activations/nope/tree", http.StatusBadRequest, "The activation id is not valid: nope"},
		{"unknown id", "/api/v1/namespaces/_/activations/" + treeID('e') + "/tree", http.StatusNotFound, "The requested resource does not exist."},
		{"another namespace", "/api/v1/namespaces/other/activations/" + trigger + "/tree", http.StatusNotFound, "The requested resource does not exist."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.guest("GET", tc.path, "")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.msg != "" {
				checkErrorBody(t, r, tc.msg)
			}
		})
	}
}
