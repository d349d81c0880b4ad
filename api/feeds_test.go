package api_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

// testFeeds are providers made for these tests: "test/burst" emits count
// events and finishes (deleting its trigger with delete=true); "test/hook"
// receives JSON over HTTP with a bearer token, generated when not given.
func testFeeds() *feeds.Registry {
	reg := feeds.NewRegistry()
	reg.Register(feeds.Provider{Package: "test", Name: "burst", Description: "Emits count events, then finishes.",
		// count is checked by New, absent included, for its own message.
		Params: []feeds.Param{{Name: "count", Type: feeds.Int}, {Name: "delete", Type: feeds.Bool}},
		New: func(cfg feeds.Config) (feeds.Source, error) {
			n := cfg.Values.Int("count")
			if n <= 0 {
				return nil, feeds.Invalid("count", "must be a positive integer")
			}
			return &burst{cfg: cfg, n: int(n), del: cfg.Values.Bool("delete")}, nil
		}})
	reg.Register(feeds.Provider{Package: "test", Name: "hook", Description: "Receives JSON.",
		Params: []feeds.Param{{Name: "token", Type: feeds.String, Secret: true}},
		New: func(cfg feeds.Config) (feeds.Source, error) {
			tok, ok := cfg.Values.String("token"), cfg.Values.Has("token")
			if !ok {
				tok = "generated-" + actions.NewActivationID()
				cfg.Params.Set("token", tok)
			}
			return &hook{cfg: cfg, token: tok}, nil
		}})
	return reg
}

type burst struct {
	cfg feeds.Config
	n   int
	del bool
}

func (b *burst) Run(ctx context.Context, emit feeds.Emit) error {
	for i := range b.n {
		e := event.New()
		e.SetID(fmt.Sprintf("%s#%d", b.cfg.Trigger, i))
		e.SetSource("/test/burst")
		e.SetType("dev.gust.test.burst")
		_ = e.SetData("application/json", map[string]int{"i": i})
		if err := emit(ctx, e); err != nil {
			return err
		}
	}
	if b.del {
		return feeds.ErrDeleteTrigger
	}
	return nil
}

type hook struct {
	cfg   feeds.Config
	token string
}

func (h *hook) Receive(w http.ResponseWriter, r *http.Request, emit feeds.Emit) error {
	if r.Method != http.MethodPost {
		return feeds.Reject(http.StatusMethodNotAllowed, "POST events here.")
	}
	got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) != 1 {
		return feeds.Reject(http.StatusUnauthorized, "Missing or wrong bearer token.")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return feeds.Reject(http.StatusRequestEntityTooLarge, "The body is too large.")
	}
	e := event.New()
	e.SetID(r.Header.Get("X-Delivery"))
	e.SetSource("/test/hook")
	e.SetType("dev.gust.test.hook")
	e.SetDataContentType("application/json")
	e.DataEncoded = body
	if err := emit(r.Context(), e); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// feedEnv is an API with a feed manager running the test feeds.
type feedEnv struct {
	*env
	js jetstream.JetStream
}

func newFeedEnv(t *testing.T) *feedEnv {
	t.Helper()
	fe := &feedEnv{}
	fe.env = startEnvWith(t, t.TempDir(), func(e *env, cfg *api.Config) {
		fe.js = e.hub.JetStream()
		withFeeds(t, e, cfg)
	})
	return fe
}

// withFeeds gives cfg a running feed manager with the test feeds, and the
// event publisher and record store it needs, on e's hub.
func withFeeds(t *testing.T, e *env, cfg *api.Config) {
	t.Helper()
	ctx := context.Background()
	js := e.hub.JetStream()
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		t.Fatal(err)
	}
	pub := hub.NewPublisher(js)
	m, err := feeds.Open(ctx, feeds.Options{Registry: testFeeds(), JetStream: js, Events: pub,
		Triggers: cfg.Rules.(*rules.Store), BaseURL: "http://gust.test", LeaseTTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := feeds.Install(ctx, cfg.Actions.(*actions.Store), m.Registry(), time.Now()); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	cfg.Events, cfg.Feeds, cfg.Records = pub, m, e.activations
}

// lifecycle invokes the feed action as wsk does and returns the answer.
func (fe *feedEnv) lifecycle(feed, event, trigger string, params map[string]any) response {
	fe.t.Helper()
	body := map[string]any{"authKey": api.DevGuestKey, "lifecycleEvent": event, "triggerName": "/_/" + trigger}
	for k, v := range params {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	return fe.do("POST", "/api/v1/namespaces/whisk.system/actions/test/"+feed+"?blocking=true&result=false", guestAuth, string(b))
}

// result is the response.result of an activation answer.
func (r response) result(t *testing.T) map[string]any {
	t.Helper()
	var v struct {
		Response struct {
			Result map[string]any `json:"result"`
		} `json:"response"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode activation %s: %v", r.body, err)
	}
	return v.Response.Result
}

// events returns the events stored on trigger guest/name, waiting up to 10
// s for at least n.
func (fe *feedEnv) events(t *testing.T, name string, n int) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := fe.js.OrderedConsumer(ctx, hub.EventsStream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{hub.EventSubject("guest", name)}})
		if err != nil {
			t.Fatal(err)
		}
		var out []event.Event
		batch, err := c.FetchNoWait(1000)
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			e, err := hub.DecodeEvent(m.Headers(), m.Data())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		if len(out) >= n || ctx.Err() != nil {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFeedLifecycleReceiver(t *testing.T) {
	fe := newFeedEnv(t)
	if r := fe.do("GET", "/api/v1/namespaces/whisk.system/packages", guestAuth, ""); r.status != 200 || !strings.Contains(string(r.body), `"name":"test"`) {
		t.Fatalf("system packages: %d %s", r.status, r.body)
	}
	if r := fe.do("GET", "/api/v1/namespaces/whisk.system/packages/test", guestAuth, ""); !strings.Contains(string(r.body), `"feeds":[{"name":"hook"`) {
		t.Errorf("package test does not list its feeds: %s", r.body)
	}
	fe.do("PUT", "/api/v1/namespaces/_/triggers/hooked", guestAuth, `{"annotations":[{"key":"feed","value":"/whisk.system/test/hook"}]}`)

	created := fe.lifecycle("hook", "CREATE", "hooked", nil)
	if created.status != 200 {
		t.Fatalf("CREATE: %d %s", created.status, created.body)
	}
	config := created.result(t)["config"].(map[string]any)
	token, _ := config["token"].(string)
	url, _ := config["url"].(string)
	if !strings.HasPrefix(token, "generated-") || url != "http://gust.test/api/v1/feeds/guest/hooked" {
		t.Fatalf("CREATE config: %v", config)
	}
	var rec struct {
		ActivationID string `json:"activationId"`
	}
	_ = json.Unmarshal(created.body, &rec)
	if r := fe.do("GET", "/api/v1/namespaces/_/activations/"+rec.ActivationID, guestAuth, ""); r.status != 200 || strings.Contains(string(r.body), token) {
		t.Errorf("the CREATE's record keeps the generated token: %d %s", r.status, r.body)
	}
	read := fe.lifecycle("hook", "READ", "hooked", nil).result(t)
	if c := read["config"].(map[string]any); c["token"] != feeds.Masked {
		t.Errorf("READ shows the token: %v", c)
	}
	if s := read["status"].(map[string]any); s["active"] != true {
		t.Errorf("READ status: %v", s)
	}

	send := func(tok, id string) response { return fe.post(t, tok, id, true) }
	sendOnce := func(tok, id string) response { return fe.post(t, tok, id, false) }
	if r := send("wrong", "d0"); r.status != 401 || !strings.Contains(string(r.body), "bearer token") || r.header.Get("WWW-Authenticate") != "" {
		t.Errorf("wrong token: %d %s %v", r.status, r.body, r.header)
	}
	if r := send(token, "d1"); r.status != 202 {
		t.Fatalf("good token: %d %s", r.status, r.body)
	}
	evs := fe.events(t, "hooked", 1)
	if len(evs) != 1 || evs[0].ID() != "d1" || string(evs[0].Data()) != `{"n":1}` {
		t.Fatalf("events on the trigger: %v", evs)
	}
	if s := fe.lifecycle("hook", "READ", "hooked", nil).result(t)["status"].(map[string]any); s["lastEvent"] == nil {
		t.Errorf("READ after an event has no lastEvent: %v", s)
	}

	if r := fe.lifecycle("hook", "PAUSE", "hooked", nil); r.result(t)["status"].(map[string]any)["active"] != false {
		t.Errorf("PAUSE: %s", r.body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for send(token, "d2").status != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("a paused receiver still takes events")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fe.lifecycle("hook", "UNPAUSE", "hooked", nil)
	for send(token, "d3").status != http.StatusAccepted {
		if time.Now().After(deadline) {
			t.Fatal("an unpaused receiver does not take events")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if r := fe.lifecycle("hook", "DELETE", "hooked", nil); r.status != 200 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if r := fe.lifecycle("hook", "READ", "hooked", nil); r.status != 404 {
		t.Errorf("READ after DELETE: %d %s", r.status, r.body)
	}
	for sendOnce(token, "d4").status != http.StatusNotFound {
		if time.Now().After(deadline) {
			t.Fatal("a deleted receiver still takes events")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFeedLifecycleErrors(t *testing.T) {
	fe := newFeedEnv(t)
	fe.do("PUT", "/api/v1/namespaces/_/triggers/t1", guestAuth, `{}`)
	for _, tc := range []struct {
		name, feed, event, trigger string
		params                     map[string]any
		status                     int
		message                    string
	}{
		{"missing required parameter", "burst", "CREATE", "t1", nil, 400, "parameter 'count' must be a positive integer"},
		{"bad parameter", "burst", "CREATE", "t1", map[string]any{"count": "many"}, 400, "parameter 'count' must be an integer"},
		{"unknown lifecycle event", "burst", "EXPLODE", "t1", map[string]any{"count": 1}, 400, "parameter 'lifecycleEvent'"},
		{"trigger does not exist", "burst", "CREATE", "nosuch", map[string]any{"count": 1}, 404, "Trigger /guest/nosuch does not exist"},
		{"no feed to read", "burst", "READ", "t1", nil, 404, "Trigger /guest/t1 has no feed."},
		{"no feed to delete", "burst", "DELETE", "t1", nil, 404, "Trigger /guest/t1 has no feed."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fe.lifecycle(tc.feed, tc.event, tc.trigger, tc.params)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.message) {
				t.Errorf("got %d %s, want %d with %q", r.status, r.body, tc.status, tc.message)
			}
		})
	}
	// Nothing half-created: a failed CREATE leaves no instance.
	if r := fe.lifecycle("burst", "READ", "t1", nil); r.status != 404 {
		t.Errorf("READ after failed CREATEs: %d %s", r.status, r.body)
	}
	// Another namespace's trigger: 403.
	b := `{"authKey":"` + api.DevGuestKey + `","lifecycleEvent":"CREATE","triggerName":"/other/t1","count":1}`
	if r := fe.do("POST", "/api/v1/namespaces/whisk.system/actions/test/burst?blocking=true", guestAuth, b); r.status != 403 {
		t.Errorf("CREATE on another namespace's trigger: %d %s", r.status, r.body)
	}
	b = `{"authKey":"nobody:nothing","lifecycleEvent":"CREATE","triggerName":"/_/t1","count":1}`
	if r := fe.do("POST", "/api/v1/namespaces/whisk.system/actions/test/burst?blocking=true", guestAuth, b); r.status != 401 {
		t.Errorf("CREATE with a bad authKey: %d %s", r.status, r.body)
	}
	// A trigger has at most one feed.
	fe.do("PUT", "/api/v1/namespaces/_/triggers/t2", guestAuth, `{}`)
	if r := fe.lifecycle("hook", "CREATE", "t2", map[string]any{"token": "x"}); r.status != 200 {
		t.Fatalf("CREATE: %d %s", r.status, r.body)
	}
	if r := fe.lifecycle("hook", "CREATE", "t2", map[string]any{"token": "y"}); r.status != 409 {
		t.Errorf("second CREATE: %d %s", r.status, r.body)
	}
	if r := fe.lifecycle("burst", "READ", "t2", nil); r.status != 409 {
		t.Errorf("READ through the wrong feed: %d %s", r.status, r.body)
	}
	// Deleting the trigger without the feed's DELETE drops the feed.
	fe.do("DELETE", "/api/v1/namespaces/_/triggers/t2", guestAuth, "")
	fe.do("PUT", "/api/v1/namespaces/_/triggers/t2", guestAuth, `{}`)
	if r := fe.lifecycle("hook", "READ", "t2", nil); r.status != 404 {
		t.Errorf("READ after the trigger was deleted: %d %s", r.status, r.body)
	}
}

func TestFeedRunsAndFinishes(t *testing.T) {
	fe := newFeedEnv(t)
	fe.do("PUT", "/api/v1/namespaces/_/triggers/b1", guestAuth, `{}`)
	if r := fe.lifecycle("burst", "CREATE", "b1", map[string]any{"count": 3}); r.status != 200 {
		t.Fatalf("CREATE: %d %s", r.status, r.body)
	}
	if evs := fe.events(t, "b1", 3); len(evs) != 3 {
		t.Fatalf("got %d events, want 3", len(evs))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := fe.lifecycle("burst", "READ", "b1", nil).result(t)["status"].(map[string]any)
		if s["active"] == false {
			if s["events"] != float64(3) {
				t.Errorf("finished status: %v", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the finished feed is still active: %v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// An activation record of each lifecycle call is kept for the caller.
	if r := fe.do("GET", "/api/v1/namespaces/_/activations", guestAuth, ""); !strings.Contains(string(r.body), `"name":"burst"`) {
		t.Errorf("no activation of the feed action: %s", r.body)
	}

	// A feed that asks for its trigger's deletion gets it.
	fe.do("PUT", "/api/v1/namespaces/_/triggers/b2", guestAuth, `{}`)
	fe.lifecycle("burst", "CREATE", "b2", map[string]any{"count": 1, "delete": true})
	for fe.do("GET", "/api/v1/namespaces/_/triggers/b2", guestAuth, "").status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("the trigger of a feed that finished with ErrDeleteTrigger still exists")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// post sends {"n":1} to the receiver of guest/hooked with a bearer token
// and delivery id; with retry404 it retries while the answer is 404, as the
// receiver appears once the manager's watch saw the instance.
func (fe *feedEnv) post(t *testing.T, tok, id string, retry404 bool) response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("POST", fe.srv.URL+"/api/v1/feeds/guest/hooked", strings.NewReader(`{"n":1}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Delivery", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !retry404 || resp.StatusCode != http.StatusNotFound || time.Now().After(deadline) {
			return response{status: resp.StatusCode, header: resp.Header, body: b}
		}
		time.Sleep(20 * time.Millisecond)
	}
}
