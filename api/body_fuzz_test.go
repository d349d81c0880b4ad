package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
)

// checkAnswer fails t unless r is what the API may answer any client
// input with: never a 5xx, a JSON object when 2xx (204 may be empty), and
// OpenWhisk's {"error", "code"} and nothing else for every 4xx.
func checkAnswer(t testing.TB, input any, r response) {
	t.Helper()
	switch {
	case r.status >= 500:
		t.Fatalf("status %d for %q: %s", r.status, input, r.body)
	case r.status == http.StatusNoContent:
	case r.status < 300:
		// Numbers as json.Number: JSON allows 1e999, which a float64 does not hold.
		d := json.NewDecoder(bytes.NewReader(r.body))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil || d.More() {
			t.Fatalf("status %d with a body that is no JSON object for %q: %q", r.status, input, r.body)
		}
	default:
		var eb map[string]any
		if err := json.Unmarshal(r.body, &eb); err != nil {
			t.Fatalf("status %d with a body that is no JSON object for %q: %q", r.status, input, r.body)
		}
		msg, ok1 := eb["error"].(string)
		code, ok2 := eb["code"].(string)
		if !ok1 || !ok2 || msg == "" || !transactionIDRule.MatchString(code) || len(eb) != 2 {
			t.Fatalf("status %d with body %s for %q, want {\"error\",\"code\"}", r.status, r.body, input)
		}
	}
}

// fuzzRequest is the request a fuzz input stands for: a POST of body to
// path with the query, and headers given as "Name: value" lines (lines
// that are no valid header are left out, as no HTTP server passes them on).
func fuzzRequest(path, query, headers string, body []byte) *http.Request {
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.URL.RawQuery = query
	for _, line := range strings.Split(headers, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if ok && validHeader(name, strings.TrimSpace(value)) {
			req.Header.Add(name, strings.TrimSpace(value))
		}
	}
	return req
}

// validHeader reports whether name and value may appear in an HTTP/1.1
// request (RFC 9110 token and field-value characters).
func validHeader(name, value string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	for _, c := range []byte(value) {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzInvoke posts arbitrary bodies, queries (blocking, result, timeout)
// and headers to an action's invoke route through the real handler, with
// an Activator that answers with the parameters: no panic, no 5xx, every
// rejection an {"error", "code"} body.
func FuzzInvoke(f *testing.F) {
	for _, s := range []struct{ query, headers, body string }{
		{"blocking=true&result=true", "Content-Type: application/json", `{"name":"Ada","n":[1,2.5e3,null]}`},
		{"blocking=true", "", `{}`},
		{"", "Content-Type: text/plain", `{"a":{"b":{"c":[]}}}`},
		{"blocking=true&timeout=100", "", ``},
		{"blocking=maybe", "", `{}`},
		{"timeout=-1", "", `{}`},
		{"blocking=true&timeout=60001", "", `{}`},
		{"result=true", "", `[1,2]`},
		{"", "", `null`},
		{"", "", `{"a":1}{"b":2}`},
		{"", "", `{"a":1,"a":2}`},
		{"", "", `{"secret":"mine"}`},
		{"", "", "{\"\xff\":\"\xfe\"}"},
		{"blocking=true", "Content-Type: application/json; charset=latin1", `{"\u0000":"\ud800"}`},
		{"%zz", "", `{}`},
		{"", "", `{"x":1e999}`},
	} {
		f.Add(s.query, s.headers, []byte(s.body))
	}
	act := &scripted{}
	e := newEnv(f, func(c *api.Config) { c.Activator = act })
	e.must("PUT", "/api/v1/namespaces/_/actions/echo", bodyHello)
	e.must("PUT", "/api/v1/namespaces/_/actions/sealed",
		`{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"secret","value":"s"}],"annotations":[{"key":"final","value":true}]}`)
	f.Fuzz(func(t *testing.T, query, headers string, body []byte) {
		for _, name := range []string{"echo", "sealed"} {
			req := fuzzRequest("/api/v1/namespaces/_/actions/"+name, query, headers, body)
			checkAnswer(t, []any{query, headers, string(body)}, e.serve(req))
		}
	})
}

// FuzzFire posts arbitrary bodies and headers (plain fires, CloudEvents
// in binary, structured and batch mode) to a trigger with an active rule,
// through the real handler onto the hub's event stream: no panic, no 5xx,
// every rejection an {"error", "code"} body.
func FuzzFire(f *testing.F) {
	for _, s := range []struct{ headers, body string }{
		{"Content-Type: application/json", `{"temperature":21.5,"unit":"C"}`},
		{"", ``},
		{"", `[]`},
		{"", `{"a":1}trailing`},
		{"Content-Type: application/cloudevents+json", `{"specversion":"1.0","id":"e1","source":"/s","type":"t","data":{"x":1}}`},
		{"Content-Type: application/cloudevents+json", `{"specversion":"1.0","id":"e2","source":"/s","type":"t","data_base64":"AAEC","datacontenttype":"application/octet-stream"}`},
		{"Content-Type: application/cloudevents-batch+json", `[{"specversion":"1.0","id":"b1","source":"/s","type":"t"},{"specversion":"1.0","id":"b2","source":"/s","type":"t","gusthops":"3"}]`},
		{"Content-Type: application/cloudevents-batch+json", `[]`},
		{"Content-Type: application/cloudevents+json", `{"specversion":"0.3","id":"","source":"","type":""}`},
		{"ce-specversion: 1.0\nce-id: bin1\nce-source: /bin\nce-type: t\nContent-Type: text/plain", `hello`},
		{"ce-specversion: 1.0\nce-id: bin2\nce-source: /bin\nce-type: t\nce-time: yesterday", `{}`},
		{"ce-gusthops: 17", `{"a":1}`},
		{"ce-gusthops: x", `{}`},
		{"ce-id: lonely", `{}`},
		{"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", `{"t":1}`},
		{"Content-Type: application/cloudevents+json", `{"specversion":"1.0","id":"e3","source":"%zz","type":"t","time":"2026-13-45T99:00:00Z"}`},
	} {
		f.Add(s.headers, []byte(s.body))
	}
	e := fireEnv(f)
	f.Fuzz(func(t *testing.T, headers string, body []byte) {
		for _, trigger := range []string{"t", "quiet"} {
			req := fuzzRequest("/api/v1/namespaces/_/triggers/"+trigger, "", headers, body)
			checkAnswer(t, []any{headers, string(body)}, e.serve(req))
		}
	})
}

// TestFireControlCharacters: a CloudEvent whose attribute holds a line
// break (which FuzzFire's corpus has) is refused with a 400 that names the
// attribute, rather than stored with its headers cut short.
func TestFireControlCharacters(t *testing.T) {
	e := fireEnv(t)
	req := fuzzRequest("/api/v1/namespaces/_/triggers/t", "", "Content-Type: application/cloudevents+json",
		[]byte(`{"specversion":"1.0","id":"n1","source":"/s","type":"t","subject":"a\r\nNats-Msg-Id: forged"}`))
	r := e.serve(req)
	checkAnswer(t, "subject with a line break", r)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "subject holds a control character") {
		t.Errorf("status %d %s, want 400 naming the subject", r.status, r.body)
	}
}

// fireEnv is an API that puts fires on its hub's event stream, with
// trigger t, whose rule r runs action hello, and trigger quiet, which has
// no rule.
func fireEnv(tb testing.TB) *env {
	tb.Helper()
	e := startEnvWith(tb, tb.TempDir(), func(e *env, c *api.Config) {
		if _, err := hub.OpenEvents(tb.Context(), e.hub.JetStream()); err != nil {
			tb.Fatal(err)
		}
		c.Events = hub.NewPublisher(e.hub.JetStream())
	})
	e.must("PUT", "/api/v1/namespaces/_/actions/hello", bodyHello)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/triggers/quiet", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/rules/r", `{"trigger":"/_/t","action":"/_/hello"}`)
	return e
}
