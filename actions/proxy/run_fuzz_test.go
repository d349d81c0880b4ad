package proxy_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gusthub/gust/actions/proxy"
	"github.com/gusthub/gust/actions/proxy/proxytest"
	"github.com/gusthub/gust/actions/runtimes"
)

// FuzzRun posts arbitrary /run bodies to proxies whose nodejs and python
// launchers run an echo action, through the proxy's HTTP handler. The properties:
// the answer is 200, a 400 for a request that is no JSON object, or a 502
// for a result that is no dictionary, always with a JSON body (an
// {"error"} unless 200); and the launcher survives every request, so a
// well-formed /run after it still answers.
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		`{"value":{"name":"Ada","n":[1,2.5,null,true]},"namespace":"guest","action_name":"/guest/echo","activation_id":"a1","deadline":"1795530757000","api_key":"k"}`,
		`{"value":{}}`, `{}`, `{"value":null}`, `{"value":"text"}`, `{"value":[1,2]}`,
		`{"value":{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}}`,
		`{"value":{"x":1e999,"y":-0,"z":12345678901234567890}}`,
		`{"value":{"s":"\u2028\u2029\ud800\u0000"},"namespace":"a\u0000b","x=y":"1","":""}`,
		`{"value":{"a":1},"deadline":"soon","activation_id":{"nested":1}}`,
		`{"value":{"a":1}}{"value":{"b":2}}`, `{"value":{"a":1}}` + "\n" + `{"value":{"b":2}}`,
		`[]`, `null`, ``, `{`, "{\"value\":{\"k\":\"\xff\xfe\"}}", `{"__gust_run":7,"value":{}}`,
	} {
		f.Add([]byte(s))
	}
	var targets []proxytest.Target
	for kind, code := range map[string]string{
		runtimes.NodeJS20: "function main(p) { return {p: p} }",
		runtimes.Python3:  "def main(p):\n    return {'p': p}\n",
	} {
		target := startInProcess(f, kind, nil, true)
		body, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "echo", "code": code}})
		if resp, b := postLogs(f, target, "/init", string(body), proxy.LogsNone); resp.StatusCode != http.StatusOK {
			f.Fatalf("%s /init: %s %s", kind, resp.Status, b)
		}
		targets = append(targets, target)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			run(t, target, body)
		}
	})
}

// run checks FuzzRun's properties for one body on one target.
func run(t *testing.T, target proxytest.Target, body []byte) {
	t.Helper()
	resp, b := postLogs(t, target, "/run", string(body), proxy.LogsNone)
	var answer map[string]any
	switch err := json.Unmarshal(b, &answer); {
	case resp.StatusCode == http.StatusOK && err == nil:
	case resp.StatusCode == http.StatusOK:
		if !json.Valid(b) {
			t.Fatalf("%q: 200 with %q, which is no JSON", body, b)
		}
	case resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusBadGateway:
		t.Fatalf("%q: status %d %s", body, resp.StatusCode, b)
	case err != nil || answer["error"] == nil:
		t.Fatalf("%q: status %d with %q, want an {\"error\"}", body, resp.StatusCode, b)
	}
	resp, b = postLogs(t, target, "/run", `{"value":{"after":1}}`, proxy.LogsNone)
	var after struct{ P struct{ After int } }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &after) != nil || after.P.After != 1 {
		t.Fatalf("after %q, a well-formed /run answers %d %q", body, resp.StatusCode, b)
	}
}
