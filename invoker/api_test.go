package invoker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
)

// serveAPI serves the OpenWhisk API of s, with OpenWhisk's well-known
// guest key for namespace guest.
func serveAPI(tb testing.TB, s *stack) *httptest.Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := api.OpenIdentities(ctx, s.hub.JetStream())
	if err != nil {
		tb.Fatal(err)
	}
	if err := ids.Add(ctx, "guest", api.DevGuestKey, false); err != nil {
		tb.Fatal(err)
	}
	cacheCtx, stopCache := context.WithCancel(context.Background())
	tb.Cleanup(stopCache)
	srv := httptest.NewServer(api.New(api.Config{
		Actions: s.store, Invocations: actions.NewCache(cacheCtx, s.store, nil), Activations: s.records, Identities: ids,
		Activator: s.disp, Logger: quiet(),
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// post invokes guest's action name with query and body, and returns the
// status and body of the answer.
func postInvoke(tb testing.TB, c *http.Client, srv *httptest.Server, name, query, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/namespaces/guest/actions/"+name+"?"+query, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	user, pass, _ := strings.Cut(api.DevGuestKey, ":")
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestInvokeThroughAPI(t *testing.T) {
	s := newStack(t, stackOptions{})
	srv := serveAPI(t, s)
	c := srv.Client()
	s.put(t, action{name: "hello", code: helloCode})
	s.put(t, action{name: "sleepy", code: counterCode, limits: func(l *actions.Limits) { l.Timeout = 500 }})
	s.put(t, action{name: "throws", code: `function main() { throw new Error('boom'); }`})

	status, body := postInvoke(t, c, srv, "hello", "blocking=true&result=true", `{"name":"Gust","place":"the hub"}`)
	if status != http.StatusOK || !bytes.Equal(bytes.TrimSpace(body), []byte(`{"message":"Hello, Gust from the hub"}`)) {
		t.Errorf("blocking result: %d %s", status, body)
	}

	status, body = postInvoke(t, c, srv, "hello", "blocking=true", `{"name":"a","place":"b"}`)
	var rec struct {
		ActivationID string `json:"activationId"`
		Response     struct {
			Status  string          `json:"status"`
			Success bool            `json:"success"`
			Result  json.RawMessage `json:"result"`
		} `json:"response"`
		Annotations actions.KeyValues `json:"annotations"`
	}
	if err := json.Unmarshal(body, &rec); err != nil || status != http.StatusOK {
		t.Fatalf("blocking record: %d %s (%v)", status, body, err)
	}
	if !rec.Response.Success || rec.Response.Status != "success" || len(rec.ActivationID) != 32 || rec.Annotations.Has("initTime") {
		t.Errorf("warm blocking record %s", body)
	}

	status, body = postInvoke(t, c, srv, "hello", "", `{"name":"a","place":"b"}`)
	var accepted struct {
		ActivationID string `json:"activationId"`
	}
	if err := json.Unmarshal(body, &accepted); err != nil || status != http.StatusAccepted || len(accepted.ActivationID) != 32 {
		t.Errorf("non-blocking: %d %s", status, body)
	}

	status, body = postInvoke(t, c, srv, "sleepy", "blocking=true&result=true", `{"sleep":3000}`)
	if status != http.StatusBadGateway || !bytes.Contains(body, []byte(`"The action exceeded its time limits of 500 milliseconds."`)) {
		t.Errorf("timeout: %d %s", status, body)
	}
	status, body = postInvoke(t, c, srv, "sleepy", "blocking=true&result=true", `{}`)
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"n":1`)) {
		t.Errorf("after the timeout: %d %s, want a new container's first run", status, body)
	}

	status, body = postInvoke(t, c, srv, "throws", "blocking=true&result=true", "")
	if status != http.StatusBadGateway || !bytes.Contains(body, []byte("boom")) {
		t.Errorf("throws: %d %s", status, body)
	}

	// A blocking call that outlasts its wait answers 202.
	status, body = postInvoke(t, c, srv, "sleepy", "blocking=true&timeout=100", `{"sleep":400}`)
	if status != http.StatusAccepted || !bytes.Contains(body, []byte(`"activationId"`)) {
		t.Errorf("blocking past its wait: %d %s", status, body)
	}
}
