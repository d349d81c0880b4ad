package gustcmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/gusthub/gust/api"
)

// TestE2ECloudEventsConformance sends events with the CloudEvents Go SDK's
// own HTTP client, in binary, structured and batch mode, with JSON, text
// and binary data and an extension of every CloudEvents type, both to a
// cloudevents/ingress feed and to a trigger fire, and compares what a real
// action (nodejs, in Docker, returning its parameters) received with what
// was sent: each attribute and extension, as its CloudEvents canonical
// string (Gust carries events in binary mode, where every attribute is
// one), and the data byte for byte.
func TestE2ECloudEventsConformance(t *testing.T) {
	g, cli, feedURL := startIngress(t, "r-inbox")
	mustGust(t, cli, "trigger", "create", "fired")
	mustGust(t, cli, "rule", "create", "r-fired", "fired", "echo")
	host := strings.TrimSuffix(g.base, "/api/v1")
	targets := map[string]string{ // target → its URL and Authorization
		"feed": feedURL + "\x00Bearer s3cret-token",
		"fire": host + "/api/v1/namespaces/_/triggers/fired\x00Basic " + base64.StdEncoding.EncodeToString([]byte(api.DevGuestKey)),
	}

	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	schema, _ := url.Parse("https://schemas.example.com/order.json")
	home, _ := url.Parse("https://shop.example.com/about?lang=de#top")
	ref, _ := url.Parse("/orders/7?x=1")
	sample := func(id, ct string, data []byte) event.Event {
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetSource("https://shop.example.com/checkout")
		e.SetType("com.example.order.placed")
		e.SetSubject("order/7 ünï")
		e.SetDataSchema(schema.String())
		e.SetTime(time.Date(2026, 11, 24, 15, 4, 5, 123456789, time.UTC))
		e.SetExtension("tenant", "acme corp")
		e.SetExtension("attempt", int32(-42))
		e.SetExtension("urgent", true)
		e.SetExtension("homepage", types.URI{URL: *home})
		e.SetExtension("reference", types.URIRef{URL: *ref})
		e.SetExtension("deadline", time.Date(2026, 12, 1, 8, 30, 0, 500, time.FixedZone("CET", 3600)))
		e.SetExtension("signature", []byte{0, 1, 2, 0xfe, 0xff})
		e.SetDataContentType(ct)
		e.DataEncoded = data
		return e
	}
	jsonData := []byte(`{"order":7,"total":21.5,"items":["a","b"],"note":"ünïcode \u2713","nested":{"ok":true,"none":null}}`)
	textData := []byte("line one\nline two, ünï\ttabbed  ")
	sent := map[string]event.Event{}
	for target, where := range targets {
		u, auth, _ := strings.Cut(where, "\x00")
		c, err := cloudevents.NewClientHTTP(cehttp.WithTarget(u), cehttp.WithHeader("Authorization", auth))
		if err != nil {
			t.Fatal(err)
		}
		send := func(ctx context.Context, e event.Event) {
			t.Helper()
			if res := c.Send(ctx, e); !cloudevents.IsACK(res) {
				t.Fatalf("%s %s: %v", target, e.ID(), res)
			}
			sent[e.ID()] = e
		}
		structured := cloudevents.WithEncodingStructured(context.Background())
		send(context.Background(), sample(target+"-binary-json", "application/json", jsonData))
		send(context.Background(), sample(target+"-binary-text", "text/plain; charset=utf-8", textData))
		send(context.Background(), sample(target+"-binary-bytes", "application/octet-stream", all))
		send(structured, sample(target+"-structured-json", "application/json", jsonData))
		send(structured, sample(target+"-structured-text", "text/plain", textData))
		b := sample(target+"-structured-bytes", "image/png", nil)
		_ = b.SetData("image/png", all) // data_base64
		send(structured, b)

		batch := []event.Event{
			sample(target+"-batch-json", "application/json", jsonData),
			sample(target+"-batch-text", "text/plain", textData),
			sample(target+"-batch-bytes", "application/octet-stream", nil),
		}
		_ = batch[2].SetData("application/octet-stream", all)
		req, err := cehttp.NewHTTPRequestFromEvents(context.Background(), u, batch)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("%s batch: status %d", target, res.StatusCode)
		}
		for _, e := range batch {
			sent[e.ID()] = e
		}
	}

	recs := g.waitActivations(t, "an echo of every event", func(rs []record) bool { return countNamed(rs, "echo") >= len(sent) })
	got := map[string]map[string]json.RawMessage{}
	for _, r := range recs {
		if r.Name != "echo" {
			continue
		}
		var p map[string]json.RawMessage
		var ev struct{ ID string }
		if json.Unmarshal(r.Response.Result, &p) != nil || json.Unmarshal(p["__event"], &ev) != nil {
			t.Fatalf("echo result %s", r.Response.Result)
		}
		if _, dup := got[ev.ID]; dup {
			t.Errorf("event %s ran twice", ev.ID)
		}
		got[ev.ID] = p
	}
	for id, e := range sent {
		t.Run(id, func(t *testing.T) {
			p, ok := got[id]
			if !ok {
				t.Fatal("the action never received it")
			}
			checkAttributes(t, p["__event"], e)
			delete(p, "__event")
			checkData(t, p, e)
		})
	}
	if len(got) != len(sent) {
		t.Errorf("the action received %d events, %d were sent", len(got), len(sent))
	}
}

// checkAttributes compares the action's __event with e: every context
// attribute and extension as its canonical string, and nothing else.
func checkAttributes(t *testing.T, raw json.RawMessage, e event.Event) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("__event %s: %v", raw, err)
	}
	want := map[string]any{
		"id": e.ID(), "source": e.Source(), "type": e.Type(), "specversion": e.SpecVersion(),
		"subject": e.Subject(), "dataschema": e.DataSchema(), "datacontenttype": e.DataContentType(),
		"time": e.Time().UTC().Format(time.RFC3339Nano),
	}
	for k, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			t.Fatal(err)
		}
		want[k] = s
		if _, isTime := v.(types.Timestamp); isTime {
			ts, _ := types.ToTime(v)
			// A Timestamp is RFC 3339 in any zone: the SDK writes it in
			// UTC in binary mode and in its own zone in JSON, and the
			// action gets what the wire carried. Compare instants.
			if g, err := types.ToTime(got[k]); err == nil && g.Equal(ts) {
				want[k] = got[k]
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
				t.Errorf("__event.%s = %#v, sent %#v", k, got[k], want[k])
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("__event.%s = %#v, not sent", k, got[k])
			}
		}
	}
}

// checkData compares the action's other parameters with e's data, by
// Gust's convention (README): a JSON object's fields, text as payload,
// other bytes base64 in __ow_body with their type in __ow_headers.
func checkData(t *testing.T, p map[string]json.RawMessage, e event.Event) {
	t.Helper()
	ct := e.DataContentType()
	switch {
	case strings.HasPrefix(ct, "application/json"):
		var gotV, wantV any
		b, _ := json.Marshal(p)
		if json.Unmarshal(b, &gotV) != nil || json.Unmarshal(e.Data(), &wantV) != nil || !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("parameters %s, sent the object %s", b, e.Data())
		}
	case strings.HasPrefix(ct, "text/"):
		var payload string
		if len(p) != 1 || json.Unmarshal(p["payload"], &payload) != nil || payload != string(e.Data()) {
			t.Errorf("parameters %v, want only payload %q", p, e.Data())
		}
	default:
		var body string
		var headers map[string]string
		_ = json.Unmarshal(p["__ow_body"], &body)
		_ = json.Unmarshal(p["__ow_headers"], &headers)
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil || !bytes.Equal(b, e.Data()) {
			t.Errorf("__ow_body %x (%v), sent %x", b, err, e.Data())
		}
		if len(p) != 2 || len(headers) != 1 || headers["content-type"] != ct {
			t.Errorf("parameters %v, want __ow_body and __ow_headers {content-type: %s}", p, ct)
		}
	}
}
