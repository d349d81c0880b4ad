package gustcmd

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gusthub/gust/actions"
)

// TestE2ELargePayloads: a 20 MB invoke body and a 20 MB trigger fire,
// more than one NATS message carries, reach a real nodejs action whole
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
	var fired struct{ ActivationID string }
	g.mustCall(t, 202, "POST", "/namespaces/_/triggers/big", big, &fired)
	g.waitActivations(t, "the 20 MB fire's action", func(rs []record) bool {
		for _, r := range rs {
			var got struct{ Pad, N int }
			if r.Name == "size" && r.Cause == fired.ActivationID && json.Unmarshal(r.Response.Result, &got) == nil && got.Pad == 20<<20 && got.N == 7 {
				return true
			}
		}
		return false
	})

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
