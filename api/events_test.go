package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
)

// queuedIDs is the rule engine's Activator: it keeps the ids of the
// invocations the engine queues, and runs none.
type queuedIDs struct {
	mu  sync.Mutex
	ids map[string]string // action name → activation id
	n   int               // invocations queued
}

func (q *queuedIDs) Activate(_ context.Context, inv *actions.Invocation, _ time.Duration) (*actions.Activation, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ids[inv.Action.Name] = inv.ActivationID
	q.n++
	return nil, nil
}

// Queue is Activate without waiting; the batch has nothing to store.
func (q *queuedIDs) Queue(ctx context.Context, _ *hub.Batch, inv *actions.Invocation) (func() error, error) {
	_, err := q.Activate(ctx, inv, 0)
	return func() error { return nil }, err
}

func (q *queuedIDs) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

func (q *queuedIDs) get(action string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ids[action]
}

// eventsEnv is an API on e's hub with trigger fires and outcome streams,
// and a rule engine that queues into the returned Activator.
func eventsEnv(t *testing.T, e *env) (*env, *queuedIDs) {
	t.Helper()
	ctx := t.Context()
	js := e.hub.JetStream()
	store, err := actions.OpenStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.OpenStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		t.Fatal(err)
	}
	q := &queuedIDs{ids: map[string]string{}}
	engineCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- engine.New(js, rs, store, q, e.activations, nil).Run(engineCtx) }()
	srv := httptest.NewServer(api.New(api.Config{
		Actions: store, Rules: rs, Activations: e.activations, Identities: e.ids,
		Events: hub.NewPublisher(js), Outcomes: rules.NewOutcomes(e.hub.Conn()),
	}))
	t.Cleanup(func() {
		srv.Close()
		stop()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	return &env{t: t, srv: srv, otherAuth: e.otherAuth}, q
}

// eventStream is an open GET .../events: its answer and its lines.
type eventStream struct {
	res   *http.Response
	lines chan string
}

// openEvents opens an event stream at path; it is closed when the test
// ends.
func openEvents(t *testing.T, srv *httptest.Server, path, auth string) *eventStream {
	t.Helper()
	return openStream(t, srv, path, auth, "")
}

// openStream opens an event stream at path, asking for the media type
// accept (none when empty).
func openStream(t *testing.T, srv *httptest.Server, path, auth, accept string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &eventStream{res: res, lines: make(chan string, 100)}
	t.Cleanup(func() {
		cancel()
		res.Body.Close()
	})
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if sc.Text() != "" { // heartbeats
				s.lines <- sc.Text()
			}
		}
	}()
	return s
}

// next returns the stream's next line.
func (s *eventStream) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			t.Fatal("the stream ended")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line on the stream")
	}
	return ""
}

// outcome returns the stream's next outcome.
func (s *eventStream) outcome(t *testing.T) rules.Outcome {
	t.Helper()
	var o rules.Outcome
	if l := s.next(t); json.Unmarshal([]byte(l), &o) != nil {
		t.Fatalf("not an outcome: %s", l)
	}
	return o
}

func TestEventStream(t *testing.T) {
	e, queued := eventsEnv(t, newEnv(t))
	e.must("PUT", "/api/v1/namespaces/_/actions/hello", bodyHello)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t2", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/rules/r1", `{"trigger":"/_/t","action":"/_/hello"}`)
	e.must("PUT", "/api/v1/namespaces/_/rules/r2", `{"trigger":"/_/t","action":"/_/hello"}`)
	e.must("POST", "/api/v1/namespaces/_/rules/r2", `{"status":"inactive"}`)
	e.must("PUT", "/api/v1/namespaces/_/rules/r3", `{"trigger":"/_/t","action":"/_/hello","filter":{"exact":{"type":"never"}}}`)
	e.must("PUT", "/api/v1/namespaces/_/rules/r4", `{"trigger":"/_/t2","action":"/_/hello"}`)
	fire := func(trigger string) string {
		t.Helper()
		r := e.guest("POST", "/api/v1/namespaces/_/triggers/"+trigger, `{"x":1}`)
		if r.status != http.StatusAccepted {
			t.Fatalf("fire %s: %d %s", trigger, r.status, r.body)
		}
		return r.object(t)["activationId"].(string)
	}

	t.Run("every trigger: what each rule did", func(t *testing.T) {
		s := openEvents(t, e.srv, "/api/v1/namespaces/_/events", guestAuth)
		if s.res.StatusCode != http.StatusOK || s.res.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("status %d, Content-Type %q", s.res.StatusCode, s.res.Header.Get("Content-Type"))
		}
		id := fire("t")
		o := s.outcome(t)
		if o.Trigger != "guest/t" || o.TriggerActivationID != id || o.Event.ID != id || o.Event.Type != hub.PlainFireType {
			t.Errorf("outcome = %+v", o)
		}
		want := []rules.Verdict{
			{Rule: "guest/r1", Action: "guest/hello", Outcome: rules.OutcomeActivated, ActivationID: queued.get("hello")},
			{Rule: "guest/r2", Action: "guest/hello", Outcome: rules.OutcomeInactive},
			{Rule: "guest/r3", Action: "guest/hello", Outcome: rules.OutcomeFiltered},
		}
		if fmt.Sprint(o.Rules) != fmt.Sprint(want) || want[0].ActivationID == "" {
			t.Errorf("rules = %+v\nwant %+v", o.Rules, want)
		}
		fire("t2")
		if o := s.outcome(t); o.Trigger != "guest/t2" {
			t.Errorf("outcome = %+v", o)
		}
	})
	t.Run("server-sent events", func(t *testing.T) {
		s := openStream(t, e.srv, "/api/v1/namespaces/_/events", guestAuth, "text/html, text/event-stream;q=0.9")
		if s.res.StatusCode != http.StatusOK || s.res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, Content-Type %q", s.res.StatusCode, s.res.Header.Get("Content-Type"))
		}
		// Another namespace's trigger of the same name stays out of it.
		for _, put := range []struct{ path, body string }{
			{"actions/hello", bodyHello}, {"triggers/t2", `{}`}, {"rules/r4", `{"trigger":"/_/t2","action":"/_/hello"}`},
		} {
			if r := e.do("PUT", "/api/v1/namespaces/_/"+put.path, e.otherAuth, put.body); r.status != http.StatusOK {
				t.Fatalf("PUT other's %s: %d %s", put.path, r.status, r.body)
			}
		}
		others := openStream(t, e.srv, "/api/v1/namespaces/_/events", e.otherAuth, "text/event-stream")
		if r := e.do("POST", "/api/v1/namespaces/_/triggers/t2", e.otherAuth, `{}`); r.status != http.StatusAccepted {
			t.Fatalf("fire other/t2: %d %s", r.status, r.body)
		}
		if l := others.next(t); !strings.Contains(l, `"trigger":"other/t2"`) {
			t.Fatalf("other's stream: %s", l)
		}
		id := fire("t2")
		l := s.next(t)
		data, ok := strings.CutPrefix(l, "data: ")
		var o rules.Outcome
		if !ok || json.Unmarshal([]byte(data), &o) != nil || o.Trigger != "guest/t2" || o.TriggerActivationID != id {
			t.Errorf("event line %q, want data: and the outcome of %s", l, id)
		}
	})
	t.Run("one trigger", func(t *testing.T) {
		s := openEvents(t, e.srv, "/api/v1/namespaces/guest/events?trigger=t2", guestAuth)
		fire("t")
		id := fire("t2")
		if o := s.outcome(t); o.Trigger != "guest/t2" || o.TriggerActivationID != id {
			t.Errorf("outcome = %+v", o)
		}
	})
	t.Run("a fire no rule was active for", func(t *testing.T) {
		e.must("PUT", "/api/v1/namespaces/_/triggers/quiet", `{}`)
		e.must("PUT", "/api/v1/namespaces/_/rules/off", `{"trigger":"/_/quiet","action":"/_/hello"}`)
		e.must("POST", "/api/v1/namespaces/_/rules/off", `{"status":"inactive"}`)
		s := openEvents(t, e.srv, "/api/v1/namespaces/_/events?trigger=quiet", guestAuth)
		if r := e.guest("POST", "/api/v1/namespaces/_/triggers/quiet", `{"x":1}`); r.status != http.StatusNoContent {
			t.Fatalf("fire: %d %s, want 204", r.status, r.body)
		}
		o := s.outcome(t)
		want := []rules.Verdict{{Rule: "guest/off", Action: "guest/hello", Outcome: rules.OutcomeInactive}}
		if o.Trigger != "guest/quiet" || o.TriggerActivationID != "" || o.Event.Type != hub.PlainFireType || fmt.Sprint(o.Rules) != fmt.Sprint(want) {
			t.Errorf("outcome = %+v, want no activation and rules %+v", o, want)
		}
	})
	for _, tc := range []struct {
		name, path, auth string
		status           int
	}{
		{"another namespace", "/api/v1/namespaces/other/events", guestAuth, http.StatusNotFound},
		{"a missing trigger", "/api/v1/namespaces/_/events?trigger=nope", guestAuth, http.StatusNotFound},
		{"another namespace's trigger", "/api/v1/namespaces/_/events?trigger=t", e.otherAuth, http.StatusNotFound},
		{"no key", "/api/v1/namespaces/_/events", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.do("GET", tc.path, tc.auth, ""); r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
}

// floodSource delivers n outcomes as soon as a stream subscribes, faster
// than any stream reads.
type floodSource struct{ n int }

func (f floodSource) Subscribe(_, _ string, deliver func([]byte)) (func(), error) {
	for i := range f.n {
		deliver(fmt.Appendf(nil, `{"trigger":"guest/t","triggerActivationId":"%d"}`, i))
	}
	return func() {}, nil
}

func (floodSource) Unrouted(string, *rules.Trigger, event.Event) error { return nil }

// TestEventStreamDrops checks that a stream that falls behind drops
// outcomes, says how many, and goes on.
func TestEventStreamDrops(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(api.New(api.Config{Identities: e.ids, Outcomes: floodSource{n: 300}}))
	t.Cleanup(srv.Close)
	s := openEvents(t, srv, "/api/v1/namespaces/_/events", guestAuth)
	if l := s.next(t); l != `{"dropped":44}` {
		t.Errorf("first line %s, want the notice", l)
	}
	for i := range 256 {
		if o := s.outcome(t); o.TriggerActivationID != fmt.Sprint(i) {
			t.Fatalf("outcome %d = %+v", i, o)
		}
	}
}

// TestEventStreamDropsSSE checks the notice of lost outcomes as a
// server-sent event.
func TestEventStreamDropsSSE(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(api.New(api.Config{Identities: e.ids, Outcomes: floodSource{n: 300}}))
	t.Cleanup(srv.Close)
	s := openStream(t, srv, "/api/v1/namespaces/_/events", guestAuth, "text/event-stream")
	for _, want := range []string{"event: dropped", `data: {"dropped":44}`, `data: {"trigger":"guest/t","triggerActivationId":"0"}`} {
		if l := s.next(t); l != want {
			t.Fatalf("line %q, want %q", l, want)
		}
	}
}

// heldActivator answers each invocation with a successful record, once
// release is closed; started receives each invocation as it arrives.
type heldActivator struct {
	started chan struct{}
	release chan struct{}
}

func (h *heldActivator) Activate(_ context.Context, inv *actions.Invocation, _ time.Duration) (*actions.Activation, error) {
	h.started <- struct{}{}
	<-h.release
	return &actions.Activation{ActivationID: inv.ActivationID, Response: actions.Response{Result: json.RawMessage(`{"done":true}`)}}, nil
}

// TestEventStreamEndsAtShutdown: a server shutting down ends its event
// streams (EndStreams, registered with RegisterOnShutdown) with the
// trailer that says so, instead of waiting for their clients to leave,
// while a blocking invoke in flight still gets its answer. Shutdown used
// to run into its deadline while a stream was open.
func TestEventStreamEndsAtShutdown(t *testing.T) {
	for _, accept := range []string{"application/x-ndjson", "text/event-stream"} {
		t.Run(accept, func(t *testing.T) {
			held := &heldActivator{started: make(chan struct{}, 1), release: make(chan struct{})}
			e := newEnv(t, func(c *api.Config) { c.Activator, c.Outcomes = held, floodSource{} })
			e.must("PUT", "/api/v1/namespaces/_/actions/hello", bodyHello)
			handler := e.handler.(*api.Server)
			srv := httptest.NewUnstartedServer(handler)
			srv.Config.RegisterOnShutdown(handler.EndStreams)
			srv.Start()
			t.Cleanup(srv.Close)
			release := sync.OnceFunc(func() { close(held.release) })
			t.Cleanup(release) // before srv.Close, which waits for the invoke

			s := openStream(t, srv, "/api/v1/namespaces/_/events", guestAuth, accept)
			if s.res.StatusCode != http.StatusOK {
				t.Fatalf("stream: status %d", s.res.StatusCode)
			}
			invoked := make(chan string, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/namespaces/_/actions/hello?blocking=true&result=true", nil)
				req.Header.Set("Authorization", guestAuth)
				res, err := srv.Client().Do(req)
				if err != nil {
					invoked <- err.Error()
					return
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				invoked <- fmt.Sprint(res.StatusCode, " ", string(b))
			}()
			<-held.started

			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			shutdown := make(chan error, 1)
			go func() { shutdown <- srv.Config.Shutdown(ctx) }()
			select {
			case l, ok := <-s.lines:
				if ok {
					t.Fatalf("a line %q, want the stream's end", l)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the stream goes on after shutdown began")
			}
			if got := s.res.Trailer.Get("Gust-Stream-End"); got != "shutdown" {
				t.Errorf("trailer Gust-Stream-End %q, want shutdown", got)
			}
			release()
			if got := <-invoked; got != `200 {"done":true}` {
				t.Errorf("the invoke in flight at shutdown: %s", got)
			}
			if err := <-shutdown; err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
}

// endlessSource delivers large outcomes until the stream stops.
type endlessSource struct{}

func (endlessSource) Subscribe(_, _ string, deliver func([]byte)) (func(), error) {
	stop := make(chan struct{})
	line := []byte(`{"trigger":"guest/t","pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				deliver(line)
				time.Sleep(time.Millisecond)
			}
		}
	}()
	return sync.OnceFunc(func() { close(stop) }), nil
}

func (endlessSource) Unrouted(string, *rules.Trigger, event.Event) error { return nil }

// TestStuckEventStreamDoesNotHoldShutdown: a stream whose client stopped
// reading, its write blocked on full buffers, is broken off soon after
// shutdown begins instead of holding it until its deadline.
func TestStuckEventStreamDoesNotHoldShutdown(t *testing.T) {
	e := newEnv(t)
	handler := api.New(api.Config{Identities: e.ids, Outcomes: endlessSource{}})
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.RegisterOnShutdown(handler.EndStreams)
	srv.Start()
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A client that asks and never reads.
	fmt.Fprintf(conn, "GET /api/v1/namespaces/_/events HTTP/1.1\r\nHost: gust\r\nAuthorization: %s\r\n\r\n", guestAuth)
	time.Sleep(2 * time.Second) // the stream fills the connection's buffers and blocks
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown after %v: %v", time.Since(t0).Round(time.Millisecond), err)
	}
}
