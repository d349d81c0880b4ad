package gustcmd

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// TestE2ELargePayloads: a 20 MB invoke body and a 20 MB trigger fire (a
// plain one and a CloudEvent), more than one NATS message carries, reach a real nodejs action whole
// (it answers the length it got); a body over the 25 MB limit is refused
// at the edge with 413 and OpenWhisk's message.
func TestE2ELargePayloads(t *testing.T) {
	requireEngine(t)
	g := startGust(t, t.TempDir())
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/size", nodeAction(
		`function main(p) { return { pad: (p.pad || '').length, n: p.n }; }`), nil)
	big := `{"n":7,"pad":"` + strings.Repeat("x", 20<<20) + `"}`

	var res struct{ Pad, N int }
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/size?blocking=true&result=true", big, &res)
	if res.Pad != 20<<20 || res.N != 7 {
		t.Errorf("a 20 MB invoke reached the action as pad %d bytes, n %d", res.Pad, res.N)
	}

	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/big", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/rbig", map[string]any{"trigger": "/_/big", "action": "/_/size"}, nil)
	// A plain fire, and a CloudEvent in binary mode (ce- headers).
	for _, headers := range [][]string{nil, {"ce-specversion", "1.0", "ce-id", "big-1", "ce-source", "https://example.com/big", "ce-type", "com.example.big"}} {
		var fired struct{ ActivationID string }
		g.mustCall(t, 202, "POST", "/namespaces/_/triggers/big", big, &fired, headers...)
		waitRecord(t, g, "size", "the 20 MB fire's action", func(r record) bool {
			var got struct{ Pad, N int }
			return r.Cause == fired.ActivationID && json.Unmarshal(r.Response.Result, &got) == nil && got.Pad == 20<<20 && got.N == 7
		})
	}

	tooBig := `{"pad":"` + strings.Repeat("x", actions.MaxPayloadBytes) + `"}`
	for _, path := range []string{"/namespaces/_/actions/size?blocking=true", "/namespaces/_/triggers/big"} {
		var e struct {
			Error string `json:"error"`
			Code  string `json:"code"`
		}
		if got := g.call(t, "POST", path, tooBig, &e); got != http.StatusRequestEntityTooLarge || !strings.HasPrefix(e.Error, "Request larger than allowed: ") {
			t.Errorf("POST %s with %d bytes: %d %+v", path, len(tooBig), got, e)
		}
	}
}

// waitRecord polls the records of action name (the trigger records of a
// large fire, which hold its payload, are not read) until one matches.
func waitRecord(t *testing.T, g *gustProcess, name, what string, match func(record) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var recs []record
		g.mustCall(t, http.StatusOK, "GET", "/namespaces/_/activations?docs=true&limit=20&name="+name, nil, &recs)
		for _, r := range recs {
			if match(r) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
