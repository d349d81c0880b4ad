package cloudevents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/gusthub/gust/feeds"
	_ "github.com/gusthub/gust/feeds/cloudevents"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/feeds/webhook/ingress"
	"github.com/gusthub/gust/feeds/webhook/ingress/ingresstest"
)

const (
	token  = "s3cret-token-for-tests"
	secret = "hmac-key-for-tests"
)

func newIngress(t testing.TB, params feeds.Params) feeds.Source {
	t.Helper()
	return feedtest.Build(t, "cloudevents/ingress", feedtest.Config(params))
}

func tokenParams() feeds.Params { return feeds.Params{"token": json.RawMessage(`"` + token + `"`)} }

// binaryRequest is a valid binary-mode request carrying event i.
func binaryRequest(i int) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("ce-specversion", "1.0")
	r.Header.Set("ce-id", fmt.Sprintf("event-%d", i))
	r.Header.Set("ce-source", "/tests")
	r.Header.Set("ce-type", "com.example.test")
	return r
}

func TestConformance(t *testing.T) {
	feedtest.Run(t, feedtest.Case{
		Provider: feedtest.Provider(t, "cloudevents/ingress"),
		Params:   tokenParams(),
		Produce: func(t *testing.T, f feeds.Source, emit feeds.Emit, i int) {
			if w := feedtest.Deliver(t, f, emit, binaryRequest(i)); w.Code != http.StatusAccepted {
				t.Fatalf("delivery %d: %d %s", i, w.Code, w.Body)
			}
		},
	})
}

func TestNewParams(t *testing.T) {
	t.Run("generates a secret token", func(t *testing.T) {
		cfg := feedtest.Config(feeds.Params{})
		if _, err := feedtest.Provider(t, "cloudevents/ingress").Build(cfg); err != nil {
			t.Fatal(err)
		}
		tok, ok, err := cfg.Params.String("token")
		if err != nil || !ok || len(tok) < 32 {
			t.Fatalf("generated token %q, %v, %v", tok, ok, err)
		}
		for _, p := range feedtest.Provider(t, "cloudevents/ingress").Params {
			if !p.Secret {
				t.Errorf("parameter %s is not secret", p.Name)
			}
		}
		w := feedtest.Deliver(t, newIngress(t, cfg.Params), feedtest.NewRecorder(t).Emit, binaryRequest(1))
		if w.Code != http.StatusUnauthorized {
			t.Errorf("the test token against a generated one: %d", w.Code)
		}
	})
	for _, tc := range []struct {
		name, param string
		params      feeds.Params
	}{
		{"short token", "token", feeds.Params{"token": json.RawMessage(`"short"`)}},
		{"token not a string", "token", feeds.Params{"token": json.RawMessage(`12345678901`)}},
		{"short secret", "secret", feeds.Params{"secret": json.RawMessage(`"abc"`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := feedtest.Provider(t, "cloudevents/ingress").Build(feedtest.Config(tc.params))
			var pe *feeds.ParamError
			if !errors.As(err, &pe) || pe.Name != tc.param {
				t.Fatalf("got %v, want a *feeds.ParamError naming %s", err, tc.param)
			}
		})
	}
}

// intact fails unless got carries want's attributes, extensions and data.
func intact(t *testing.T, got, want event.Event) {
	t.Helper()
	if got.ID() != want.ID() || got.Source() != want.Source() || got.Type() != want.Type() ||
		got.Subject() != want.Subject() || got.SpecVersion() != want.SpecVersion() {
		t.Errorf("got %s/%s/%s/%s/%s, want %s/%s/%s/%s/%s", got.ID(), got.Source(), got.Type(), got.Subject(), got.SpecVersion(),
			want.ID(), want.Source(), want.Type(), want.Subject(), want.SpecVersion())
	}
	if !got.Time().Equal(want.Time()) {
		t.Errorf("time %v, want %v", got.Time(), want.Time())
	}
	if got.DataContentType() != want.DataContentType() {
		t.Errorf("datacontenttype %q, want %q", got.DataContentType(), want.DataContentType())
	}
	for k, v := range want.Extensions() {
		gs, _ := types.Format(got.Extensions()[k])
		ws, _ := types.Format(v)
		if gs != ws {
			t.Errorf("extension %s = %q, want %q", k, gs, ws)
		}
	}
	if len(got.Extensions()) != len(want.Extensions()) {
		t.Errorf("extensions %v, want %v", got.Extensions(), want.Extensions())
	}
	if !bytes.Equal(bytes.TrimSpace(got.Data()), bytes.TrimSpace(want.Data())) {
		t.Errorf("data %q, want %q", got.Data(), want.Data())
	}
}

func sample(id string) event.Event {
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource("https://producer.example.com/orders")
	e.SetType("com.example.order.created")
	e.SetSubject("order/42")
	e.SetTime(time.Date(2026, 11, 24, 15, 4, 5, 123000000, time.UTC))
	e.SetExtension("tenant", "acme")
	e.SetExtension("partitionkey", "p-7")
	e.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]any{"order": 42, "items": []string{"a", "b"}, "note": "ünïcode"})
	return e
}

// TestSDKClient sends events with the CloudEvents Go SDK's HTTP client, a
// client that is not Gust's, in the three modes.
func TestSDKClient(t *testing.T) {
	rec := feedtest.NewRecorder(t)
	srv := ingresstest.Server(t, newIngress(t, tokenParams()), rec.Emit)
	ctx := context.Background()
	client, err := cloudevents.NewClientHTTP(cehttp.WithTarget(srv.URL), cehttp.WithHeader("Authorization", "Bearer "+token))
	if err != nil {
		t.Fatal(err)
	}
	var want []event.Event

	binary := sample("binary-1")
	if res := client.Send(ctx, binary); !cloudevents.IsACK(res) {
		t.Fatalf("binary: %v", res)
	}
	want = append(want, binary)

	structured := sample("structured-1")
	structured.SetExtension("count", 7)
	structured.SetExtension("flag", true)
	if res := client.Send(binding.WithForceStructured(ctx), structured); !cloudevents.IsACK(res) {
		t.Fatalf("structured: %v", res)
	}
	want = append(want, structured)

	raw := sample("binary-data")
	raw.SetDataContentType("application/octet-stream")
	raw.DataEncoded = []byte{0, 1, 2, 255}
	if res := client.Send(binding.WithForceStructured(ctx), raw); !cloudevents.IsACK(res) { // data_base64
		t.Fatalf("structured binary data: %v", res)
	}
	want = append(want, raw)

	batch := []event.Event{sample("batch-1"), sample("batch-2")}
	batch[1].SetSpecVersion(event.CloudEventsVersionV03)
	req, err := cehttp.NewHTTPRequestFromEvents(ctx, srv.URL, batch)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ids struct{ IDs []string }
	_ = json.NewDecoder(resp.Body).Decode(&ids)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || strings.Join(ids.IDs, ",") != "batch-1,batch-2" {
		t.Fatalf("batch: %d %v", resp.StatusCode, ids)
	}
	want = append(want, batch...)

	got := rec.WaitFor(t, len(want), 5*time.Second)
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		t.Run(want[i].ID(), func(t *testing.T) { intact(t, got[i], want[i]) })
	}
}

func TestPercentDecoding(t *testing.T) {
	rec := feedtest.NewRecorder(t)
	r := binaryRequest(1)
	r.Header.Set("ce-subject", "a%20b%C3%BC")
	r.Header.Set("ce-pct", "100%")
	r.Header.Set("ce-quoted", `"x y"`)
	if w := feedtest.Deliver(t, newIngress(t, tokenParams()), rec.Emit, r); w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	e := rec.Events()[0]
	if e.Subject() != "a bü" || e.Extensions()["pct"] != "100%" || e.Extensions()["quoted"] != "x y" {
		t.Errorf("subject %q, pct %v, quoted %v", e.Subject(), e.Extensions()["pct"], e.Extensions()["quoted"])
	}
}

func TestBadInput(t *testing.T) {
	structured := func(body string) func(*http.Request) {
		return func(r *http.Request) {
			for k := range r.Header {
				if strings.HasPrefix(strings.ToLower(k), "ce-") {
					r.Header.Del(k)
				}
			}
			r.Header.Set("Content-Type", "application/cloudevents+json")
			r.Body = ioNop(body)
		}
	}
	valid := `"specversion":"1.0","id":"1","source":"/s","type":"t"`
	for _, tc := range []struct {
		name   string
		params feeds.Params
		change func(*http.Request)
		status int
		want   string
	}{
		{"binary missing id", nil, ingresstest.Header("ce-id", ""), 400, "'id'"},
		{"binary missing source", nil, ingresstest.Header("ce-source", ""), 400, "'source'"},
		{"binary missing type", nil, ingresstest.Header("ce-type", ""), 400, "'type'"},
		{"binary missing specversion", nil, ingresstest.Header("ce-specversion", ""), 400, "'specversion'"},
		{"binary unknown specversion", nil, ingresstest.Header("ce-specversion", "2.0"), 400, "'specversion'"},
		{"binary bad time", nil, ingresstest.Header("ce-time", "yesterday"), 400, "'time'"},
		{"binary ce-datacontenttype", nil, ingresstest.Header("ce-datacontenttype", "text/plain"), 400, "'datacontenttype'"},
		{"binary bad content type", nil, ingresstest.Header("Content-Type", "not a type"), 400, "'datacontenttype'"},
		{"binary bad extension name", nil, ingresstest.Header("ce-bad_name", "x"), 400, "'bad_name'"},
		{"binary JSON type, data not JSON", nil, func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader("not json")), 8
			r.Header.Set("Content-Type", "application/json")
		}, 400, "'datacontenttype' is application/json, but the data is not valid JSON"},
		{"binary invalid utf-8 escape", nil, ingresstest.Header("ce-subject", "%FF%FE"), 400, "'subject'"},
		{"hop limit", nil, ingresstest.Header("ce-gusthops", "11"), 400, "hop limit"},
		{"bad hops", nil, ingresstest.Header("ce-gusthops", "many"), 400, "'gusthops'"},
		{"not a CloudEvent", nil, func(r *http.Request) { structured(`hi`)(r); r.Header.Set("Content-Type", "text/plain") }, 400, "not a CloudEvent"},
		{"plain JSON", nil, func(r *http.Request) { structured(`{}`)(r); r.Header.Set("Content-Type", "application/json") }, 400, "not a CloudEvent"},
		{"structured missing id", nil, structured(`{"specversion":"1.0","source":"/s","type":"t"}`), 400, "'id'"},
		{"structured missing source", nil, structured(`{"specversion":"1.0","id":"1","type":"t"}`), 400, "'source'"},
		{"structured missing type", nil, structured(`{"specversion":"1.0","id":"1","source":"/s"}`), 400, "'type'"},
		{"structured missing specversion", nil, structured(`{"id":"1","source":"/s","type":"t"}`), 400, "'specversion'"},
		{"structured unknown specversion", nil, structured(`{"specversion":"0.1","id":"1","source":"/s","type":"t"}`), 400, "'specversion'"},
		{"structured id not a string", nil, structured(`{"specversion":"1.0","id":7,"source":"/s","type":"t"}`), 400, "'id'"},
		{"structured bad time", nil, structured(`{` + valid + `,"time":"noon"}`), 400, "'time'"},
		{"structured datacontenttype does not fit data", nil, structured(`{` + valid + `,"datacontenttype":"text/plain","data":{"a":1}}`), 400, "'datacontenttype'"},
		{"structured datacontenttype no media type", nil, structured(`{` + valid + `,"datacontenttype":"???"}`), 400, "'datacontenttype'"},
		{"structured not JSON", nil, structured(`{"specversion":`), 400, "not valid JSON"},
		{"structured array", nil, structured(`[]`), 400, "JSON object"},
		{"unknown format", nil, func(r *http.Request) {
			structured(`<x/>`)(r)
			r.Header.Set("Content-Type", "application/cloudevents+xml")
		}, 400, "application/cloudevents+xml"},
		{"batch not an array", nil, func(r *http.Request) {
			structured(`{}`)(r)
			r.Header.Set("Content-Type", "application/cloudevents-batch+json")
		}, 400, "JSON array"},
		{"batch empty", nil, func(r *http.Request) {
			structured(`[]`)(r)
			r.Header.Set("Content-Type", "application/cloudevents-batch+json")
		}, 400, "empty"},
		{"batch with a bad event", nil, func(r *http.Request) {
			structured(`[{` + valid + `},{"specversion":"1.0","id":"2","source":"/s"}]`)(r)
			r.Header.Set("Content-Type", "application/cloudevents-batch+json")
		}, 400, "Event 1 of the batch: CloudEvent attribute 'type' is missing"},
		{"batch too long", nil, func(r *http.Request) {
			structured("[" + strings.Repeat("{"+valid+"},", 1000) + "{" + valid + "}]")(r)
			r.Header.Set("Content-Type", "application/cloudevents-batch+json")
		}, 413, "1000"},
		{"too large", nil, func(r *http.Request) { r.Body = ioNop(strings.Repeat("x", ingress.MaxBody+1)) }, 413, "larger"},
		{"no token", nil, ingresstest.Header("Authorization", ""), 401, "token"},
		{"wrong token", nil, ingresstest.Header("Authorization", "Bearer nope-nope-nope"), 401, "token"},
		{"basic auth", nil, ingresstest.Header("Authorization", "Basic Z3Vlc3Q6Z3Vlc3Q="), 401, "token"},
		{"wrong method", nil, func(r *http.Request) { r.Method = http.MethodGet }, 405, "POST"},
		{"no signature", feeds.Params{"secret": json.RawMessage(`"` + secret + `"`)}, nil, 401, "signature"},
		{"wrong signature", feeds.Params{"secret": json.RawMessage(`"` + secret + `"`)}, ingresstest.Header("X-Gust-Signature", ingress.Signature("other-key!", []byte(`{"n":1}`))), 401, "signature"},
		{"signature of another body", feeds.Params{"secret": json.RawMessage(`"` + secret + `"`)}, ingresstest.Header("X-Hub-Signature-256", ingress.Signature(secret, []byte(`{"n":2}`))), 401, "signature"},
		{"sha1 signature", feeds.Params{"secret": json.RawMessage(`"` + secret + `"`)}, ingresstest.Header("X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567"), 401, "signature"},
		{"malformed signature", feeds.Params{"secret": json.RawMessage(`"` + secret + `"`)}, ingresstest.Header("X-Gust-Signature", "sha256=zz"), 401, "signature"},
		{"token and secret, token only", feeds.Params{"secret": json.RawMessage(`"` + secret + `"`), "token": json.RawMessage(`"` + token + `"`)}, nil, 401, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := tc.params
			if params == nil {
				params = tokenParams()
			}
			r := binaryRequest(1)
			if tc.change != nil {
				tc.change(r)
			}
			ingresstest.Refused(t, newIngress(t, params), r, tc.status, tc.want)
		})
	}
}

func TestSignatures(t *testing.T) {
	params := feeds.Params{"secret": json.RawMessage(`"` + secret + `"`)}
	for _, name := range []string{"X-Gust-Signature", "X-Hub-Signature-256"} {
		t.Run(name, func(t *testing.T) {
			rec := feedtest.NewRecorder(t)
			r := binaryRequest(3)
			r.Header.Del("Authorization")
			r.Header.Set(name, "sha256="+strings.ToUpper(strings.TrimPrefix(ingress.Signature(secret, []byte(`{"n":3}`)), "sha256="))) // hex in either case
			if w := feedtest.Deliver(t, newIngress(t, params), rec.Emit, r); w.Code != http.StatusAccepted {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		})
	}
	t.Run("access_token query parameter", func(t *testing.T) {
		r := binaryRequest(4)
		r.Header.Del("Authorization")
		r.URL.RawQuery = "access_token=" + token
		if w := feedtest.Deliver(t, newIngress(t, tokenParams()), feedtest.NewRecorder(t).Emit, r); w.Code != http.StatusAccepted {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
}

func TestOptionsHandshake(t *testing.T) {
	f := newIngress(t, tokenParams())
	for _, tc := range []struct {
		name       string
		headers    map[string]string
		origin     string
		rate       string
		noCallback bool
	}{
		{"origin", map[string]string{"WebHook-Request-Origin": "eventemitter.example.com"}, "eventemitter.example.com", "", true},
		{"origin and rate", map[string]string{"WebHook-Request-Origin": "a.example", "WebHook-Request-Rate": "120"}, "a.example", "120", true},
		{"callback", map[string]string{"WebHook-Request-Origin": "eventgrid.azure.net", "WebHook-Request-Callback": "https://127.0.0.1:1/cb"}, "eventgrid.azure.net", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := feedtest.NewRecorder(t)
			r := httptest.NewRequest(http.MethodOptions, "/", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := feedtest.Deliver(t, f, rec.Emit, r)
			if w.Code != http.StatusOK || w.Header().Get("WebHook-Allowed-Origin") != tc.origin || w.Header().Get("WebHook-Allowed-Rate") != tc.rate {
				t.Errorf("got %d, origin %q, rate %q", w.Code, w.Header().Get("WebHook-Allowed-Origin"), w.Header().Get("WebHook-Allowed-Rate"))
			}
			if !strings.Contains(w.Header().Get("Allow"), "POST") {
				t.Errorf("Allow %q", w.Header().Get("Allow"))
			}
			if len(rec.Events()) != 0 {
				t.Error("OPTIONS emitted")
			}
		})
	}
}

func TestEmitFailure(t *testing.T) {
	fail := func(context.Context, event.Event) error { return errors.New("JetStream is away") }
	w := feedtest.Deliver(t, newIngress(t, tokenParams()), fail, binaryRequest(1))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("got %d, want 500", w.Code)
	}
}

func FuzzReceive(f *testing.F) {
	auth := "Authorization: Bearer " + token + "\n"
	f.Add("POST", auth+"ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t\nContent-Type: application/json", []byte(`{"a":1}`))
	f.Add("POST", auth+"ce-specversion: 0.3\nce-id: 1\nce-source: /s\nce-type: t\nce-time: 2020-01-01T00:00:00Z\nce-x: %41", []byte(`hello`))
	f.Add("POST", auth+"Content-Type: application/cloudevents+json", []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAE="}`))
	f.Add("POST", auth+"Content-Type: application/cloudevents+json; charset=utf-8", []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"x"}`))
	f.Add("POST", auth+"Content-Type: application/cloudevents-batch+json", []byte(`[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"0.3","id":"2","source":"/s","type":"t"}]`))
	f.Add("OPTIONS", "WebHook-Request-Origin: x\nWebHook-Request-Rate: 5", []byte(nil))
	f.Add("POST", "Authorization: Bearer nope", []byte(`{}`))
	f.Add("GET", auth, []byte(``))
	ing := newIngress(f, tokenParams())
	f.Fuzz(func(t *testing.T, method, headers string, body []byte) {
		ingresstest.Fuzz(t, ing, method, headers, body)
	})
}
