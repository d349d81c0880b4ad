package gustcmd

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// TestE2ELargePayloads: a 20 MB invoke body, a 20 MB trigger fire (a
// plain one and a CloudEvent) and a 20 MB CloudEvent to a
// cloudevents/ingress feed, more than one NATS message carries, reach a real nodejs action whole
// (it answers the length it got); a body over the 25 MB limit is refused
// at the edge with 413 (with OpenWhisk's message on the API).
func TestE2ELargePayloads(t *testing.T) {
	g, cli := startE2E(t)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/size", nodeAction(
		`function main(p) { return { pad: (p.pad || '').length, n: p.n, id: p.__event ? p.__event.id : '' }; }`), nil)
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

	// A structured CloudEvent to a cloudevents/ingress feed's URL.
	mustGust(t, cli, "trigger", "create", "inbox", "--feed", "cloudevents/ingress", "-p", "token", "s3cret-token")
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/rinbox", map[string]any{"trigger": "/_/inbox", "action": "/_/size"}, nil)
	ce := `{"specversion":"1.0","id":"big-2","source":"https://example.com/big","type":"com.example.big","datacontenttype":"application/json","data":` + big + `}`
	ingress := strings.TrimSuffix(g.base, "/api/v1") + "/api/v1/feeds/guest/inbox"
	if got := postIngress(t, ingress, "s3cret-token", ce); got != http.StatusAccepted {
		t.Fatalf("a 20 MB CloudEvent to the ingress feed: %d", got)
	}
	waitRecord(t, g, "size", "the 20 MB CloudEvent's action", func(r record) bool {
		var got struct {
			Pad, N int
			ID     string
		}
		return json.Unmarshal(r.Response.Result, &got) == nil && got.Pad == 20<<20 && got.N == 7 && got.ID == "big-2"
	})

	tooBig := `{"pad":"` + strings.Repeat("x", actions.MaxPayloadBytes) + `"}`
	if got := postIngress(t, ingress, "s3cret-token", `{"specversion":"1.0","id":"huge","source":"s","type":"t","data":`+tooBig+`}`); got != http.StatusRequestEntityTooLarge {
		t.Errorf("a CloudEvent over 25 MB to the ingress feed: %d, want 413", got)
	}
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

// postIngress posts a structured CloudEvent to a feed URL with its bearer
// token and returns the status.
func postIngress(t *testing.T, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
