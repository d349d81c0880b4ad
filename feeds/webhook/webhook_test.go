package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/feeds/webhook"
	"github.com/gusthub/gust/feeds/webhook/ingress"
	"github.com/gusthub/gust/feeds/webhook/ingress/ingresstest"
)

const secret = "github-webhook-secret"

func secretParams() feeds.Params { return feeds.Params{"secret": json.RawMessage(`"` + secret + `"`)} }

// build builds a webhook feed as the manager does.
func build(cfg feeds.Config) (feeds.Source, error) {
	p, ok := feeds.Registered().Lookup("webhook/webhook")
	if !ok {
		return nil, errors.New("webhook/webhook is not registered")
	}
	return p.Build(cfg)
}

func newWebhook(t *testing.T, params feeds.Params) feeds.Source {
	t.Helper()
	return feedtest.Build(t, "webhook/webhook", feedtest.Config(params))
}

// githubRequest is a GitHub push delivery, signed as GitHub signs it.
func githubRequest(delivery, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", "push")
	r.Header.Set("X-GitHub-Delivery", delivery)
	r.Header.Set("X-Hub-Signature-256", ingress.Signature(secret, []byte(body)))
	return r
}

func TestConformance(t *testing.T) {
	feedtest.Run(t, feedtest.Case{
		Provider: feedtest.Provider(t, "webhook/webhook"),
		Params:   secretParams(),
		Produce: func(t *testing.T, f feeds.Source, emit feeds.Emit, i int) {
			r := githubRequest(fmt.Sprintf("72d3162e-cc78-11e3-81ab-4c9367dc%04d", i), fmt.Sprintf(`{"ref":"refs/heads/main","n":%d}`, i))
			if w := feedtest.Deliver(t, f, emit, r); w.Code != http.StatusAccepted {
				t.Fatalf("delivery %d: %d %s", i, w.Code, w.Body)
			}
		},
	})
}

func TestEvent(t *testing.T) {
	const tok = "bearer-token-123"
	tokParams := feeds.Params{"token": json.RawMessage(`"` + tok + `"`)}
	post := func(body, ct string, headers ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tok)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		return r
	}
	for _, tc := range []struct {
		name           string
		params         feeds.Params
		req            *http.Request
		id, typ, ctype string
		data           string
		randomID       bool
	}{
		{name: "github push", params: secretParams(), req: githubRequest("d-1", `{"ref":"x"}`),
			id: "d-1", typ: "com.github.push", ctype: "application/json", data: `{"ref":"x"}`},
		{name: "type parameter wins", params: feeds.Params{"secret": json.RawMessage(`"` + secret + `"`), "type": json.RawMessage(`"com.example.deploy"`)},
			req: githubRequest("d-2", `{}`), id: "d-2", typ: "com.example.deploy", ctype: "application/json", data: `{}`},
		{name: "idempotency key", params: tokParams, req: post(`{"a":1}`, "application/json", "Idempotency-Key", "k-9", "X-Request-Id", "r-1"),
			id: "k-9", typ: webhook.DefaultType, ctype: "application/json", data: `{"a":1}`},
		{name: "request id", params: tokParams, req: post(`{"a":1}`, "application/json; charset=utf-8", "X-Request-Id", "r-1"),
			id: "r-1", typ: webhook.DefaultType, ctype: "application/json; charset=utf-8", data: `{"a":1}`},
		{name: "github form delivery", params: tokParams, req: post("payload=%7B%22ref%22%3A%22x%22%7D", "application/x-www-form-urlencoded", "X-GitHub-Delivery", "d-3"),
			id: "d-3", typ: webhook.DefaultType, ctype: "application/json", data: `{"ref":"x"}`},
		{name: "other form", params: tokParams, req: post("a=1&b=2", "application/x-www-form-urlencoded", "X-Request-Id", "r-2"),
			id: "r-2", typ: webhook.DefaultType, ctype: "application/x-www-form-urlencoded", data: `a=1&b=2`},
		{name: "no id header", params: tokParams, req: post(`[1,2]`, ""), randomID: true, typ: webhook.DefaultType, ctype: "application/json", data: `[1,2]`},
		{name: "form", params: tokParams, req: post(`a=1&b=2`, "application/x-www-form-urlencoded"), randomID: true,
			typ: webhook.DefaultType, ctype: "application/x-www-form-urlencoded", data: `a=1&b=2`},
		{name: "text without type", params: tokParams, req: post(`hello`, ""), randomID: true, typ: webhook.DefaultType, ctype: "text/plain; charset=utf-8", data: `hello`},
		{name: "bytes without type", params: tokParams, req: post(string(allBytes()), ""), randomID: true, typ: webhook.DefaultType, ctype: "application/octet-stream", data: string(allBytes())},
		{name: "bytes", params: tokParams, req: post(string(allBytes()), "application/octet-stream"), randomID: true, typ: webhook.DefaultType, ctype: "application/octet-stream", data: string(allBytes())},
		{name: "image", params: tokParams, req: post(string(allBytes()), "image/png"), randomID: true, typ: webhook.DefaultType, ctype: "image/png", data: string(allBytes())},
		{name: "empty body", params: tokParams, req: post(``, ""), randomID: true, typ: webhook.DefaultType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := feedtest.NewRecorder(t)
			w := feedtest.Deliver(t, newWebhook(t, tc.params), rec.Emit, tc.req)
			if w.Code != http.StatusAccepted {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			e := rec.Events()[0]
			var answer struct{ ID string }
			if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || answer.ID != e.ID() {
				t.Errorf("answer %s for event %s", w.Body, e.ID())
			}
			if tc.randomID && len(e.ID()) != 36 || !tc.randomID && e.ID() != tc.id {
				t.Errorf("id %q, want %q", e.ID(), tc.id)
			}
			if e.Type() != tc.typ || e.DataContentType() != tc.ctype || string(e.Data()) != tc.data {
				t.Errorf("type %q, datacontenttype %q, data %q", e.Type(), e.DataContentType(), e.Data())
			}
			if e.Source() != feedtest.Config(nil).URL || e.Time().IsZero() {
				t.Errorf("source %q, time %v", e.Source(), e.Time())
			}
			if err := e.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestIdenticalPostsAreTwoEvents: without a delivery id, two identical
// posts are two events, not one dropped as a duplicate.
func TestIdenticalPostsAreTwoEvents(t *testing.T) {
	rec := feedtest.NewRecorder(t)
	f := newWebhook(t, secretParams())
	for range 2 {
		r := githubRequest("", `{"same":true}`)
		r.Header.Del("X-GitHub-Delivery")
		if w := feedtest.Deliver(t, f, rec.Emit, r); w.Code != http.StatusAccepted {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if evs := rec.Events(); evs[0].ID() == evs[1].ID() {
		t.Errorf("both got id %s", evs[0].ID())
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params feeds.Params
		change func(*http.Request)
		status int
		want   string
	}{
		{"invalid JSON", nil, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"a":`))
			r.Header.Set("X-Hub-Signature-256", ingress.Signature(secret, []byte(`{"a":`)))
		}, 400, "not valid JSON"},
		{"bad content type", nil, ingresstest.Header("Content-Type", "what is this"), 400, "Content-Type"},
		{"id header too long", nil, ingresstest.Header("X-GitHub-Delivery", strings.Repeat("x", 300)), 400, "X-GitHub-Delivery"},
		{"id header with spaces", nil, ingresstest.Header("X-GitHub-Delivery", "a b"), 400, "X-GitHub-Delivery"},
		{"too large", nil, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Repeat(" ", ingress.MaxBody+1)))
		}, 413, "larger"},
		{"no signature", nil, ingresstest.Header("X-Hub-Signature-256", ""), 401, "signature"},
		{"sha1 signature only", nil, func(r *http.Request) {
			r.Header.Del("X-Hub-Signature-256")
			r.Header.Set("X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567")
		}, 401, "signature"},
		{"wrong signature", nil, ingresstest.Header("X-Hub-Signature-256", ingress.Signature("another-secret", []byte(`{"a":1}`))), 401, "signature"},
		{"no token", feeds.Params{"token": json.RawMessage(`"bearer-token-123"`)}, nil, 401, "token"},
		{"wrong token", feeds.Params{"token": json.RawMessage(`"bearer-token-123"`)}, ingresstest.Header("Authorization", "Bearer bearer-token-124"), 401, "token"},
		{"PUT", nil, func(r *http.Request) { r.Method = http.MethodPut }, 405, "POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := tc.params
			if params == nil {
				params = secretParams()
			}
			r := githubRequest("d-1", `{"a":1}`)
			if tc.change != nil {
				tc.change(r)
			}
			ingresstest.Refused(t, newWebhook(t, params), r, tc.status, tc.want)
		})
	}
}

func TestParams(t *testing.T) {
	cfg := feedtest.Config(feeds.Params{})
	if _, err := build(cfg); err != nil {
		t.Fatal(err)
	}
	if tok, ok, _ := cfg.Params.String("token"); !ok || len(tok) < 32 {
		t.Errorf("generated token %q", tok)
	}
	_, err := build(feedtest.Config(feeds.Params{"token": json.RawMessage(`"long-enough"`), "type": json.RawMessage(`"has spaces"`)}))
	var pe *feeds.ParamError
	if !errors.As(err, &pe) || pe.Name != "type" {
		t.Errorf("bad type: %v", err)
	}
}

func TestOptionsHandshake(t *testing.T) {
	r := httptest.NewRequest(http.MethodOptions, "/", nil)
	r.Header.Set("WebHook-Request-Origin", "hooks.example.com")
	w := feedtest.Deliver(t, newWebhook(t, secretParams()), feedtest.NewRecorder(t).Emit, r)
	if w.Code != http.StatusOK || w.Header().Get("WebHook-Allowed-Origin") != "hooks.example.com" {
		t.Errorf("%d %v", w.Code, w.Header())
	}
}

func TestEmitFailure(t *testing.T) {
	fail := func(context.Context, event.Event) error { return errors.New("JetStream is away") }
	if w := feedtest.Deliver(t, newWebhook(t, secretParams()), fail, githubRequest("d", `{}`)); w.Code != http.StatusInternalServerError {
		t.Errorf("got %d, want 500", w.Code)
	}
}

func FuzzReceive(f *testing.F) {
	const tok = "fuzz-token-123"
	auth := "Authorization: Bearer " + tok + "\n"
	f.Add("POST", auth+"Content-Type: application/json\nX-GitHub-Event: push\nX-GitHub-Delivery: 1", []byte(`{"a":1}`))
	f.Add("POST", auth+"Content-Type: application/x-www-form-urlencoded", []byte(`payload=%7B%7D`))
	f.Add("POST", auth+"Idempotency-Key: k", []byte(``))
	f.Add("POST", auth+"Content-Type: application/vnd.api+json", []byte(`{`))
	f.Add("OPTIONS", "WebHook-Request-Origin: x", []byte(nil))
	f.Add("DELETE", auth, []byte(nil))
	f.Add("POST", "Authorization: Bearer nope\nContent-Type: application/json", []byte(`{}`))
	wh, err := build(feedtest.Config(feeds.Params{"token": json.RawMessage(`"` + tok + `"`)}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, headers string, body []byte) {
		ingresstest.Fuzz(t, wh, method, headers, body)
	})
}

// allBytes is every byte value, 0 to 255, once.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
