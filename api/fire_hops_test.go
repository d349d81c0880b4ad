package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
)

// TestFireHopLimit: a fire whose gusthops extension exceeds the hop limit
// is refused, in every form a fire takes.
func TestFireHopLimit(t *testing.T) {
	pub := &recordingPublisher{}
	e := newEnv(t, func(c *api.Config) { c.Events = pub })
	srv := e.srv
	e.must("PUT", "/api/v1/namespaces/_/actions/hello", bodyHello)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t", bodyTrigger)
	e.must("PUT", "/api/v1/namespaces/_/rules/r", `{"trigger":"/_/t","action":"/_/hello"}`)
	const refused = "Event exceeded the hop limit of 10 (gusthops=11): a rule's action probably fires the trigger that invoked it."
	for _, tc := range []struct {
		name, contentType, body string
		headers                 []string
		status                  int
		msg                     string
	}{
		{"plain fire at the limit", "application/json", `{}`, []string{"ce-gusthops", "10"}, http.StatusAccepted, ""},
		{"plain fire over the limit", "application/json", `{}`, []string{"ce-gusthops", "11"}, http.StatusBadRequest, refused},
		{"binary CloudEvent over the limit", "application/json", `{}`,
			[]string{"ce-specversion", "1.0", "ce-id", "b1", "ce-source", "/s", "ce-type", "t", "ce-gusthops", "11"}, http.StatusBadRequest, refused},
		{"structured CloudEvent over the limit", "application/cloudevents+json",
			`{"specversion":"1.0","id":"s1","source":"/s","type":"t","gusthops":11}`, nil, http.StatusBadRequest, refused},
		{"batch with one event over the limit", "application/cloudevents-batch+json",
			`[{"specversion":"1.0","id":"s2","source":"/s","type":"t"},{"specversion":"1.0","id":"s3","source":"/s","type":"t","gusthops":"11"}]`, nil, http.StatusBadRequest, refused},
		{"count that is not a number", "application/json", `{}`, []string{"ce-gusthops", "many"}, http.StatusBadRequest,
			"The request content was malformed:\nCloudEvent extension 'gusthops' must be a non-negative integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub.mu.Lock()
			before := len(pub.events)
			pub.mu.Unlock()
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/namespaces/_/triggers/t", strings.NewReader(tc.body))
			req.Header.Set("Authorization", guestAuth)
			req.Header.Set("Content-Type", tc.contentType)
			for i := 0; i+1 < len(tc.headers); i += 2 {
				req.Header.Set(tc.headers[i], tc.headers[i+1])
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			r := response{status: res.StatusCode, header: res.Header, body: body}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			pub.mu.Lock()
			got := pub.events[before:]
			pub.mu.Unlock()
			if tc.msg != "" {
				wantError(t, r, tc.status, tc.msg)
				if len(got) != 0 {
					t.Errorf("a refused fire stored %d events", len(got))
				}
				return
			}
			if len(got) != 1 || got[0].Extensions()[hub.HopsExtension] != "10" {
				t.Errorf("stored %v, want one event with gusthops 10", got)
			}
		})
	}
}
