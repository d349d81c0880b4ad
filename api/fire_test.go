package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
)

// recordingPublisher keeps the events a fire would put on the hub, and the
// headers stored with each.
type recordingPublisher struct {
	mu     sync.Mutex
	events []event.Event
	extras []map[string]string
}

func (p *recordingPublisher) Fire(_ context.Context, ns, trigger string, e event.Event, extra map[string]string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
	p.extras = append(p.extras, extra)
	return extra[hub.HeaderActivationID], nil
}

func TestFire(t *testing.T) {
	pub := &recordingPublisher{}
	e := newEnv(t, func(c *api.Config) { c.Events = pub })
	srv := e.srv
	e.must("PUT", "/api/v1/namespaces/_/actions/hello?overwrite=false", bodyHello)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t?overwrite=false", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/triggers/quiet?overwrite=false", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/rules/r?overwrite=false", `{"trigger":"/_/t","action":"/_/hello"}`)

	fire := func(path, contentType, body string, headers ...string) (int, []byte) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", guestAuth)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b []byte
		b = make([]byte, 0, 512)
		buf := make([]byte, 512)
		for {
			n, err := res.Body.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				break
			}
		}
		return res.StatusCode, b
	}
	const ev1 = `{"specversion":"1.0","id":"e1","source":"/s","type":"com.example.a","datacontenttype":"application/json","data":{"x":1}}`
	const ev2 = `{"specversion":"1.0","id":"e2","source":"/s","type":"com.example.b"}`
	for _, tc := range []struct {
		name, path, contentType, body string
		headers                       []string
		status                        int
		published                     []string // ids of the events stored, in order
		errorHas                      string
	}{
		{name: "plain payload", path: "/api/v1/namespaces/_/triggers/t", body: `{"temperature":21}`, status: 202},
		{name: "no active rule", path: "/api/v1/namespaces/_/triggers/quiet", body: `{}`, status: 204},
		{name: "missing trigger", path: "/api/v1/namespaces/_/triggers/nope", body: `{}`, status: 404},
		{name: "binary CloudEvent", path: "/api/v1/namespaces/_/triggers/t", contentType: "application/json", body: `{"x":1}`,
			headers: []string{"ce-specversion", "1.0", "ce-id", "b1", "ce-source", "/s", "ce-type", "com.example.c"}, status: 202, published: []string{"b1"}},
		{name: "binary CloudEvent without id", path: "/api/v1/namespaces/_/triggers/t", body: `{}`,
			headers: []string{"ce-specversion", "1.0", "ce-source", "/s", "ce-type", "t"}, status: 400, errorHas: "id"},
		{name: "unknown specversion", path: "/api/v1/namespaces/_/triggers/t", body: `{}`,
			headers: []string{"ce-specversion", "9.9", "ce-id", "x", "ce-source", "/s", "ce-type", "t"}, status: 400, errorHas: "specversion"},
		{name: "structured CloudEvent", path: "/api/v1/namespaces/_/triggers/t", contentType: "application/cloudevents+json", body: ev1, status: 202, published: []string{"e1"}},
		{name: "batch", path: "/api/v1/namespaces/_/triggers/t", contentType: "application/cloudevents-batch+json", body: "[" + ev1 + "," + ev2 + "]", status: 202, published: []string{"e1", "e2"}},
		{name: "batch with a bad event stores none", path: "/api/v1/namespaces/_/triggers/t", contentType: "application/cloudevents-batch+json",
			body: "[" + ev1 + `,{"specversion":"1.0","id":"e3","type":"t"}]`, status: 400, errorHas: "Event 1 of the batch"},
		{name: "empty batch", path: "/api/v1/namespaces/_/triggers/t", contentType: "application/cloudevents-batch+json", body: `[]`, status: 400, errorHas: "empty"},
		{name: "payload that is no object", path: "/api/v1/namespaces/_/triggers/t", body: `[1,2]`, status: 400, errorHas: "JSON object"},
		// The fire reads CloudEvents as the CloudEvents ingress feed does
		// (package cehttp): the HTTP binding's rules hold on both doors.
		{name: "binary CloudEvent with ce-datacontenttype", path: "/api/v1/namespaces/_/triggers/t", contentType: "application/json", body: `{}`,
			headers: []string{"ce-specversion", "1.0", "ce-id", "b2", "ce-source", "/s", "ce-type", "t", "ce-datacontenttype", "text/plain"},
			status:  400, errorHas: "Content-Type header in binary mode"},
		{name: "binary CloudEvent whose JSON data is not JSON", path: "/api/v1/namespaces/_/triggers/t", contentType: "application/json", body: `{oops`,
			headers: []string{"ce-specversion", "1.0", "ce-id", "b3", "ce-source", "/s", "ce-type", "t"}, status: 400, errorHas: "not valid JSON"},
		{name: "CloudEvents format Gust does not read", path: "/api/v1/namespaces/_/triggers/t", contentType: "application/cloudevents+avro", body: `x`,
			status: 400, errorHas: "not a CloudEvents format Gust reads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub.mu.Lock()
			before := len(pub.events)
			pub.mu.Unlock()
			status, body := fire(tc.path, tc.contentType, tc.body, tc.headers...)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			pub.mu.Lock()
			got := pub.events[before:]
			extras := pub.extras[before:]
			pub.mu.Unlock()
			for i, extra := range extras {
				// The caller's key goes with each event, for the
				// __OW_API_KEY of the actions its rules invoke.
				if extra[hub.HeaderAPIKey] != api.DevGuestKey || extra[hub.HeaderSubject] != "guest" {
					t.Errorf("event %d stored with headers %v, want the caller's key and namespace", i, extra)
				}
			}
			switch {
			case status >= 400:
				checkErrorBody(t, response{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: body}, "")
				if !strings.Contains(string(body), tc.errorHas) {
					t.Errorf("error %s does not mention %q", body, tc.errorHas)
				}
				if len(got) != 0 {
					t.Errorf("a rejected fire stored %d events", len(got))
				}
			case status == 204:
				if len(got) != 0 {
					t.Errorf("a 204 fire stored %d events", len(got))
				}
			case tc.contentType == "application/cloudevents-batch+json":
				var ans struct{ ActivationIDs []string }
				if err := json.Unmarshal(body, &ans); err != nil || len(ans.ActivationIDs) != len(tc.published) {
					t.Fatalf("batch answer %s", body)
				}
			default:
				var ans struct{ ActivationID string }
				if err := json.Unmarshal(body, &ans); err != nil || !actions.IsActivationID(ans.ActivationID) {
					t.Fatalf("answer %s", body)
				}
				if tc.published == nil && (len(got) != 1 || got[0].ID() != ans.ActivationID || got[0].Type() != hub.PlainFireType) {
					t.Fatalf("a plain fire should store one event named by its activation id, got %v", got)
				}
			}
			if tc.published != nil {
				var ids []string
				for _, e := range got {
					ids = append(ids, e.ID())
				}
				if strings.Join(ids, ",") != strings.Join(tc.published, ",") {
					t.Fatalf("stored events %v, want %v", ids, tc.published)
				}
			}
		})
	}
}
