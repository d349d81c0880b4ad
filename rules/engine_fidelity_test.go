package rules_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/cehttp"
	"github.com/gusthub/gust/rules"
)

// capture is the engine's Activator and RecordStore for the fidelity
// tests: it keeps every invocation and record, and lets a test wait for
// them.
type capture struct {
	mu      sync.Mutex
	invs    []*actions.Invocation
	records []*actions.Activation
	changed chan struct{}
}

func newCapture() *capture { return &capture{changed: make(chan struct{}, 1)} }

func (c *capture) Activate(_ context.Context, inv *actions.Invocation, _ time.Duration) (*actions.Activation, error) {
	c.mu.Lock()
	c.invs = append(c.invs, inv)
	c.mu.Unlock()
	c.notify()
	return nil, nil
}

func (c *capture) Put(_ context.Context, a *actions.Activation) error {
	c.mu.Lock()
	c.records = append(c.records, a)
	c.mu.Unlock()
	c.notify()
	return nil
}

func (c *capture) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// waitRecords waits until there are at least n trigger records and
// returns the invocations and records so far.
func (c *capture) waitRecords(t *testing.T, n int) ([]*actions.Invocation, []*actions.Activation) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		invs, recs := append([]*actions.Invocation(nil), c.invs...), append([]*actions.Activation(nil), c.records...)
		c.mu.Unlock()
		if len(recs) >= n {
			return invs, recs
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("%d trigger records after 20s, want %d", len(recs), n)
		}
	}
}

// putTrigger stores trigger guest/name with one active rule to action.
func putTrigger(t *testing.T, store *rules.Store, name, action string, annotations actions.KeyValues) {
	t.Helper()
	tr := &rules.Trigger{Namespace: "guest", Name: name, Version: "0.0.1", Annotations: annotations, Rules: map[string]rules.Link{
		"guest/r-" + name: {Action: rules.Ref{Path: "guest", Name: action}, Status: rules.StatusActive},
	}}
	if _, err := store.PutTrigger(t.Context(), tr, 0); err != nil {
		t.Fatal(err)
	}
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// TestEngineBinaryData: binary data read from every CloudEvents mode
// reaches the action byte for byte, base64 in __ow_body with its media type
// in __ow_headers; text and JSON data keep their own conventions.
func TestEngineBinaryData(t *testing.T) {
	ctx := t.Context()
	h, acts, store := testStores(t, "echo")
	putTrigger(t, store, "t", "echo", nil)
	c := newCapture()
	startEngine(t, rules.NewEngine(h.JetStream(), store, acts, c, c, nil))

	all := allBytes()
	b64 := base64.StdEncoding.EncodeToString(all)
	binaryMode := func(id, ct string, body []byte) (http.Header, []byte) {
		h := http.Header{}
		h.Set("ce-specversion", "1.0")
		h.Set("ce-id", id)
		h.Set("ce-source", "/tests")
		h.Set("ce-type", "com.example.bytes")
		h.Set("Content-Type", ct)
		return h, body
	}
	structured := func(id, members string) (http.Header, []byte) {
		h := http.Header{}
		h.Set("Content-Type", "application/cloudevents+json")
		return h, []byte(`{"specversion":"1.0","id":"` + id + `","source":"/tests","type":"com.example.bytes",` + members + `}`)
	}
	batchHeader := http.Header{}
	batchHeader.Set("Content-Type", "application/cloudevents-batch+json")
	type request struct {
		header http.Header
		body   []byte
	}
	req := func(h http.Header, b []byte) request { return request{h, b} }
	// want is what the action gets for an event: binary data (ct and
	// data) or other parameters (params, JSON).
	type want struct {
		ct     string
		data   []byte
		params string
	}
	wants := map[string]want{
		"binary-octet":     {ct: "application/octet-stream", data: all},
		"binary-png":       {ct: "image/png", data: all},
		"binary-text-utf8": {params: `{"payload":"héllo, wörld\n"}`},
		"binary-text-bad":  {ct: "text/plain; charset=iso-8859-1", data: []byte("gr\xfc\xdf")},
		"binary-json":      {params: `{"a":[1,2]}`},
		"structured-b64":   {ct: "application/octet-stream", data: all},
		"structured-none":  {ct: "application/octet-stream", data: all},
		"structured-text":  {params: `{"payload":"plain"}`},
		"batch-0":          {ct: "application/vnd.example", data: all},
		"batch-1":          {ct: "application/octet-stream", data: all},
	}
	requests := []request{
		req(binaryMode("binary-octet", "application/octet-stream", all)),
		req(binaryMode("binary-png", "image/png", all)),
		req(binaryMode("binary-text-utf8", "text/plain; charset=utf-8", []byte("héllo, wörld\n"))),
		req(binaryMode("binary-text-bad", "text/plain; charset=iso-8859-1", []byte("gr\xfc\xdf"))),
		req(binaryMode("binary-json", "application/json", []byte(`{"a":[1,2]}`))),
		req(structured("structured-b64", `"datacontenttype":"application/octet-stream","data_base64":"`+b64+`"`)),
		req(structured("structured-none", `"data_base64":"`+b64+`"`)),
		req(structured("structured-text", `"datacontenttype":"text/plain","data":"plain"`)),
		req(batchHeader, []byte(`[{"specversion":"1.0","id":"batch-0","source":"/tests","type":"com.example.bytes","datacontenttype":"application/vnd.example","data_base64":"`+b64+`"},`+
			`{"specversion":"1.0","id":"batch-1","source":"/tests","type":"com.example.bytes","data_base64":"`+b64+`"}]`)),
	}
	for i := range 256 { // every byte alone, too
		id := fmt.Sprintf("byte-%d", i)
		requests = append(requests, req(binaryMode(id, "application/octet-stream", []byte{byte(i)})))
		wants[id] = want{ct: "application/octet-stream", data: []byte{byte(i)}}
	}
	for _, r := range requests {
		evs, _, err := cehttp.Decode(r.header, r.body)
		if err != nil {
			t.Fatalf("decode %.80s: %v", r.body, err)
		}
		for _, ev := range evs {
			if err := hub.PublishEvent(ctx, h.JetStream(), "guest", "t", ev, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	invs, _ := c.waitRecords(t, len(wants))
	seen := map[string]bool{}
	for _, inv := range invs {
		var p map[string]json.RawMessage
		if err := json.Unmarshal(inv.Payload, &p); err != nil {
			t.Fatal(err)
		}
		var ev struct{ ID string }
		_ = json.Unmarshal(p[rules.EventParameter], &ev)
		delete(p, rules.EventParameter)
		w, ok := wants[ev.ID]
		if !ok || seen[ev.ID] {
			t.Errorf("unexpected invocation for event %q", ev.ID)
			continue
		}
		seen[ev.ID] = true
		if w.data == nil {
			got, _ := json.Marshal(p)
			var wantV any
			_ = json.Unmarshal([]byte(w.params), &wantV)
			wantB, _ := json.Marshal(wantV)
			if !bytes.Equal(got, wantB) {
				t.Errorf("%s: parameters %s, want %s", ev.ID, got, wantB)
			}
			continue
		}
		var body string
		var headers map[string]string
		_ = json.Unmarshal(p[hub.BodyParameter], &body)
		_ = json.Unmarshal(p[hub.HeadersParameter], &headers)
		got, err := base64.StdEncoding.DecodeString(body)
		if err != nil || !bytes.Equal(got, w.data) {
			t.Errorf("%s: the action got %x (%v), want %x", ev.ID, got, err, w.data)
		}
		if headers["content-type"] != w.ct || len(p) != 2 {
			t.Errorf("%s: parameters %v, want __ow_body and __ow_headers with content-type %s", ev.ID, p, w.ct)
		}
	}
	if len(seen) != len(wants) {
		t.Errorf("%d of %d events reached the action", len(seen), len(wants))
	}
}
