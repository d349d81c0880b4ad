package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/hub"
)

// TestFireRepeatedEvent: a CloudEvent fired again through the API is
// answered with the activation id of its first fire, whose record exists,
// and runs nothing again, both within JetStream's own duplicate window and
// after it (shortened here to one second, the bar being "however late"). A
// copy that reaches the engine without the API knowing it for one (the
// engine had not taken the original yet) gets a record of its own that
// names the original, so every id a caller was told has a record.
func TestFireRepeatedEvent(t *testing.T) {
	base := newEnv(t)
	e, queued := eventsEnv(t, base)
	ctx := t.Context()
	js := base.hub.JetStream()
	e.must("PUT", "/api/v1/namespaces/_/actions/hello", bodyHello)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/rules/r", `{"trigger":"/_/t","action":"/_/hello"}`)

	fire := func(id string) string {
		t.Helper()
		req, err := http.NewRequest("POST", e.srv.URL+"/api/v1/namespaces/_/triggers/t", strings.NewReader(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", guestAuth)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("ce-specversion", "1.0")
		req.Header.Set("ce-id", id)
		req.Header.Set("ce-source", "https://shop.example.com")
		req.Header.Set("ce-type", "com.example.order")
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var out struct{ ActivationID string }
		if res.StatusCode != http.StatusAccepted || json.Unmarshal(b, &out) != nil || out.ActivationID == "" ||
			res.Header.Get("x-openwhisk-activation-id") != out.ActivationID {
			t.Fatalf("fire %s: %d %s", id, res.StatusCode, b)
		}
		return out.ActivationID
	}
	record := func(id string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := e.guest("GET", "/api/v1/namespaces/_/activations/"+id, "")
			if r.status == http.StatusOK {
				return r.object(t)
			}
			if time.Now().After(deadline) {
				t.Fatalf("activation %s: no record after 30s (%d %s)", id, r.status, r.body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	settled := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			cons, err := js.Consumer(ctx, hub.EventsStream, hub.RulesConsumer)
			if err != nil {
				t.Fatal(err)
			}
			info, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.NumPending == 0 && info.NumAckPending == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the engine did not take every event: %+v", info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	first := fire("order-1")
	if rec := record(first); rec["name"] != "t" {
		t.Fatalf("record of the first fire: %v", rec)
	}
	if again := fire("order-1"); again != first {
		t.Errorf("the same event fired again within JetStream's window: activation %s, want the first's %s", again, first)
	}

	// Past JetStream's own duplicate window: shorten it, as the engine
	// binds the stream without changing it.
	st, err := js.Stream(ctx, hub.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Duplicates = time.Second
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if late := fire("order-1"); late != first {
		t.Errorf("the same event fired again past JetStream's window: activation %s, want the first's %s", late, first)
	}

	// A copy the API did not know for one (it raced the original to the
	// engine): stored with an id of its own, which the engine records.
	ev := event.New()
	ev.SetID("order-1")
	ev.SetSource("https://shop.example.com")
	ev.SetType("com.example.order")
	_ = ev.SetData("application/json", map[string]int{"n": 1})
	const copyID = "0123456789abcdef0123456789abcdef"
	if err := hub.PublishEvent(ctx, js, "guest", "t", ev, map[string]string{hub.HeaderActivationID: copyID, hub.HeaderSubject: "guest"}); err != nil {
		t.Fatal(err)
	}
	rec := record(copyID)
	result, _ := json.Marshal(rec["response"].(map[string]any)["result"])
	if string(result) != `{"duplicateOf":"`+first+`"}` {
		t.Errorf("record of the copy: result %s, want it to name %s", result, first)
	}

	// A new event still runs, under an id of its own.
	if other := fire("order-2"); other == first {
		t.Error("a new event got the first event's activation id")
	} else {
		record(other)
	}
	settled()
	if n := queued.count(); n != 2 {
		t.Errorf("the rule's action was queued %d times, want 2 (order-1 once, order-2 once)", n)
	}
}
