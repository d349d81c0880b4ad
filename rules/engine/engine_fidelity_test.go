package engine_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/cehttp"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
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

func (c *capture) Queue(ctx context.Context, _ *hub.Batch, inv *actions.Invocation) (func() error, error) {
	return queueNow(ctx, c, inv)
}

func (c *capture) PutIn(_ *hub.Batch, a *actions.Activation, _ []byte) func(context.Context) error {
	return putNow(c, a)
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
	startEngine(t, engine.New(h.JetStream(), store, acts, c, c, nil))

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

// republish stores the event message seq of the events stream again, as
// its producer would send it once JetStream's own duplicate window has
// passed (without the message id that window knows it by).
func republish(t *testing.T, h *hub.Hub, seq uint64) {
	t.Helper()
	ctx := t.Context()
	st, err := h.JetStream().Stream(ctx, hub.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(m.Subject)
	for k, vs := range m.Header {
		if k != nats.MsgIdHdr {
			msg.Header[k] = vs
		}
	}
	msg.Data = m.Data
	if _, err := h.JetStream().PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
}

// settle waits until the engine has handled every event stored so far.
func settle(t *testing.T, h *hub.Hub) {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st, err := h.JetStream().Stream(ctx, hub.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		si, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := st.Consumer(ctx, hub.RulesConsumer)
		if err == nil {
			ci, err := c.Info(ctx)
			if err == nil && ci.AckFloor.Stream >= si.State.LastSeq && ci.NumAckPending == 0 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the engine did not handle every event within 20s")
}

// TestEngineRedeliveryRunsOnce: an event stored again after JetStream's
// own duplicate window (10 minutes) runs nothing within the trigger's
// window (72 hours by default); once a (shortened) window has passed it
// runs again, under activation ids of its own. No two records, and no two
// invocations, share an activation id.
func TestEngineRedeliveryRunsOnce(t *testing.T) {
	ctx := t.Context()
	h, acts, store := testStores(t, "echo")
	putTrigger(t, store, "late", "echo", nil)
	putTrigger(t, store, "short", "echo", actions.KeyValues{}.Set(rules.DedupWindowAnnotation, "1s"))
	c := newCapture()
	startEngine(t, engine.New(h.JetStream(), store, acts, c, c, nil))

	publish := func(trigger, id string) uint64 {
		t.Helper()
		ev := cloudevents.NewEvent()
		ev.SetID(id)
		ev.SetSource("https://github.com/gusthub/gust")
		ev.SetType("com.github.push")
		_ = ev.SetData("application/json", map[string]string{"ref": "main"})
		if err := hub.PublishEvent(ctx, h.JetStream(), "guest", trigger, ev, nil); err != nil {
			t.Fatal(err)
		}
		st, _ := h.JetStream().Stream(ctx, hub.EventsStream)
		si, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return si.State.LastSeq
	}
	seqLate := publish("late", "delivery-1")
	seqShort := publish("short", "delivery-2")
	c.waitRecords(t, 2)

	// The same deliveries again, after the stream's own window: the
	// default window still knows delivery-1, and delivery-2's 1s has not
	// passed yet.
	republish(t, h, seqLate)
	republish(t, h, seqShort)
	settle(t, h)
	if invs, recs := c.waitRecords(t, 2); len(invs) != 2 || len(recs) != 2 {
		t.Fatalf("redeliveries within their windows ran: %d invocations, %d records, want 2 and 2", len(invs), len(recs))
	}

	time.Sleep(1500 * time.Millisecond) // past the short trigger's window
	republish(t, h, seqLate)
	republish(t, h, seqShort)
	settle(t, h)
	invs, recs := c.waitRecords(t, 3)
	if len(invs) != 3 || len(recs) != 3 {
		t.Fatalf("%d invocations, %d records, want 3 and 3 (delivery-2 once more, delivery-1 not)", len(invs), len(recs))
	}
	names := map[string]int{}
	for _, r := range recs {
		names[r.Name]++
	}
	if names["late"] != 1 || names["short"] != 2 {
		t.Errorf("records per trigger %v, want late 1 and short 2", names)
	}
	ids := map[string]bool{}
	for _, r := range recs {
		if ids[r.ActivationID] {
			t.Errorf("two records with activation id %s", r.ActivationID)
		}
		ids[r.ActivationID] = true
	}
	for _, inv := range invs {
		if ids[inv.ActivationID] {
			t.Errorf("two records or invocations with activation id %s", inv.ActivationID)
		}
		ids[inv.ActivationID] = true
	}
}

// TestTriggerDedupWindowAnnotation: a trigger's window is a duration
// between a second and 30 days; anything else is refused at PUT.
func TestTriggerDedupWindowAnnotation(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{{`"96h"`, true}, {`"1s"`, true}, {`"720h"`, true}, {`"721h"`, false}, {`"500ms"`, false}, {`"3 days"`, false}, {`72`, false}} {
		annots := actions.KeyValues{{Key: rules.DedupWindowAnnotation, Value: json.RawMessage(tc.value)}}
		_, err := (&rules.TriggerPut{Annotations: &annots}).Apply(nil, actions.Name{Namespace: "guest", Name: "t"}, time.Now())
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.value, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "annotation 'dedup-window' must be a duration") {
			t.Errorf("%s: %v", tc.value, err)
		}
	}
}

// TestEngineRecordStartIsReceipt: a trigger record starts when Gust got
// the event, not at the event's own time, which stays in __event.
func TestEngineRecordStartIsReceipt(t *testing.T) {
	ctx := t.Context()
	h, acts, store := testStores(t, "echo")
	putTrigger(t, store, "t", "echo", nil)
	c := newCapture()
	startEngine(t, engine.New(h.JetStream(), store, acts, c, c, nil))
	stamped := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := cloudevents.NewEvent()
	ev.SetID("old-1")
	ev.SetSource("/sensors")
	ev.SetType("com.example.reading")
	ev.SetTime(stamped)
	before := time.Now().UnixMilli()
	if err := hub.PublishEvent(ctx, h.JetStream(), "guest", "t", ev, nil); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixMilli()
	invs, recs := c.waitRecords(t, 1)
	if s := recs[0].Start; s < before || s > after {
		t.Errorf("record start %d, want the receipt, between %d and %d (the event's time is %d)", s, before, after, stamped.UnixMilli())
	}
	var p struct {
		Event struct{ Time string } `json:"__event"`
	}
	if err := json.Unmarshal(invs[0].Payload, &p); err != nil || p.Event.Time != "2024-03-01T12:00:00Z" {
		t.Errorf("__event.time = %q (%v), want the event's own time", p.Event.Time, err)
	}
}
