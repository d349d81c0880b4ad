package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/gorilla/websocket"

	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
)

const appToken = "xapp-1-A0MDYCDME-1234567890-abcdef"

// fakeSocketMode is Slack's Socket Mode as the feed sees it:
// apps.connections.open over HTTP, answering the URL of its WebSocket,
// which says hello and then sends the envelopes a test gives it and
// collects the acks.
type fakeSocketMode struct {
	srv   *httptest.Server
	opens atomic.Int32
	acks  chan string

	mu       sync.Mutex
	conn     *websocket.Conn
	open     string // apps.connections.open's error ("invalid_auth"), "" for ok
	wsURL    string // the WebSocket URL it answers, "" for its own
	upgraded chan struct{}
}

func newFakeSocketMode(t *testing.T) *fakeSocketMode {
	f := &fakeSocketMode{acks: make(chan string, 64), upgraded: make(chan struct{}, 8)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/apps.connections.open", f.openConnection)
	mux.HandleFunc("GET /link", f.link)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.mu.Lock()
		if f.conn != nil {
			_ = f.conn.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func (f *fakeSocketMode) openConnection(w http.ResponseWriter, r *http.Request) {
	f.opens.Add(1)
	f.mu.Lock()
	fail, url := f.open, f.wsURL
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Header.Get("Authorization") != "Bearer "+appToken:
		_, _ = w.Write([]byte(`{"ok":false,"error":"not_authed"}`))
	case fail != "":
		_, _ = fmt.Fprintf(w, `{"ok":false,"error":%q}`, fail)
	default:
		if url == "" {
			url = "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/link?ticket=9f7e2c"
		}
		_, _ = fmt.Fprintf(w, `{"ok":true,"url":%q}`, url)
	}
}

func (f *fakeSocketMode) link(w http.ResponseWriter, r *http.Request) {
	// slack-go dials with Slack's own origin, which Slack accepts.
	up := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://api.slack.com" }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","num_connections":1,"debug_info":{"host":"applink-7fc4fdbb64-4x5xq","build_number":10,"approximate_connection_time":18060},"connection_info":{"app_id":"A0MDYCDME"}}`))
	f.mu.Lock()
	f.conn = conn
	f.mu.Unlock()
	f.upgraded <- struct{}{}
	for {
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := conn.ReadJSON(&ack); err != nil {
			return
		}
		f.acks <- ack.EnvelopeID
	}
}

// set makes apps.connections.open fail with error open, or answer wsURL.
func (f *fakeSocketMode) set(open, wsURL string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open, f.wsURL = open, wsURL
}

// send sends an events_api envelope carrying payload, as Slack does.
func (f *fakeSocketMode) send(t testing.TB, envelope string, payload []byte, retry int) {
	t.Helper()
	msg := fmt.Sprintf(`{"envelope_id":%q,"payload":%s,"type":"events_api","accepts_response_payload":false,"retry_attempt":%d,"retry_reason":%q}`,
		envelope, payload, retry, map[bool]string{true: "timeout"}[retry > 0])
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil {
		t.Fatal("no Socket Mode connection")
	}
	if err := f.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// connected waits for the feed's WebSocket.
func (f *fakeSocketMode) connected(t testing.TB) {
	t.Helper()
	select {
	case <-f.upgraded:
	case <-time.After(10 * time.Second):
		t.Fatal("the feed did not connect")
	}
}

// ack waits for the ack of envelope, failing on any other.
func (f *fakeSocketMode) ack(t testing.TB, envelope string) {
	t.Helper()
	select {
	case got := <-f.acks:
		if got != envelope {
			t.Fatalf("acked %q, want %q", got, envelope)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("envelope %s was not acked", envelope)
	}
}

// noAck checks that nothing is acked for a while.
func (f *fakeSocketMode) noAck(t testing.TB) {
	t.Helper()
	select {
	case got := <-f.acks:
		t.Fatalf("acked %q", got)
	case <-time.After(500 * time.Millisecond):
	}
}

// socketParams are a Socket Mode feed's parameters on fake f.
func (f *fakeSocketMode) params(kv ...string) feeds.Params {
	p := feeds.Params{}
	p.Set("appToken", appToken)
	p.Set("apiUrl", f.srv.URL+"/api/")
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	return p
}

var loopback = egress.MustParse(egress.Loopback)

// buildSocket builds a feed from p allowing loopback, where the fake is.
func buildSocket(t testing.TB, p feeds.Params) feeds.Source {
	t.Helper()
	prov, _ := feeds.Registered().Lookup("slack/events")
	cfg := feedtest.Config(p)
	cfg.Egress = loopback
	f, err := prov.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSocketConformance(t *testing.T) {
	fake := newFakeSocketMode(t)
	p, _ := feeds.Registered().Lookup("slack/events")
	feedtest.Run(t, feedtest.Case{
		Provider: p,
		Params:   fake.params(),
		Egress:   loopback,
		Produce: func(t *testing.T, f feeds.Source, emit feeds.Emit, i int) {
			if i == 0 || i == 7 {
				select {
				case <-fake.upgraded: // a new instance's connection
				case <-time.After(10 * time.Second):
				}
			}
			env := fmt.Sprintf("env-%d-%d", i, time.Now().UnixNano())
			fake.send(t, env, mention(t, fmt.Sprintf("Ev%04d", i)), 0)
			fake.ack(t, env)
		},
	})
}

// TestSocketMode: with appToken the feed connects over Socket Mode (no
// signing secret, no URL); an app_mention envelope becomes exactly the
// CloudEvent the HTTP path makes of the same event, and is acked once
// stored; an event the feed does not subscribe to is acked and not fired;
// an event type newer than slack-go passes through.
func TestSocketMode(t *testing.T) {
	fake := newFakeSocketMode(t)
	f := buildSocket(t, fake.params("events", "app_mention,future_thing"))
	if _, isReceiver := f.(feeds.Receiver); isReceiver {
		t.Error("a Socket Mode feed also takes HTTP requests, which nothing signs")
	}
	rec := feedtest.NewRecorder(t)
	run := feedtest.Start(t, f, rec.Emit)
	fake.connected(t)

	body := feedtest.Testdata(t, "app_mention")
	fake.send(t, "dbdd0ef3-1543-4f94-bfb4-133d0e6c1545", body, 0)
	fake.ack(t, "dbdd0ef3-1543-4f94-bfb4-133d0e6c1545")
	got := rec.WaitFor(t, 1, 10*time.Second)[0]

	overHTTP := feedtest.NewRecorder(t)
	if w := feedtest.Deliver(t, build(t), overHTTP.Emit, request(body, signingSecret, time.Now())); w.Code != http.StatusOK {
		t.Fatalf("HTTP path: %d %s", w.Code, w.Body)
	}
	want := overHTTP.Events()[0]
	if a, b := eventJSON(t, got), eventJSON(t, want); a != b {
		t.Errorf("Socket Mode event\n%s\nHTTP event\n%s", a, b)
	}

	fake.send(t, "env-message", []byte(`{"type":"event_callback","team_id":"T061EG9R6","event_id":"Ev0MSG","event_time":1515449530,"event":{"type":"message","channel":"C1","text":"hi","ts":"1515449530.000100"}}`), 0)
	fake.ack(t, "env-message")
	fake.send(t, "env-future", []byte(`{"type":"event_callback","team_id":"T061EG9R6","event_id":"Ev0FUT","event_time":1700000000,"event":{"type":"future_thing","channel":"C9"}}`), 0)
	fake.ack(t, "env-future")
	evs := rec.WaitFor(t, 2, 10*time.Second)
	if len(evs) != 2 || evs[1].Type() != "com.slack.future_thing" || evs[1].ID() != "Ev0FUT" {
		t.Errorf("events %v", evs)
	}
	if err := run.Stop(t); err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

func eventJSON(t testing.TB, e event.Event) string {
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSocketModeUnstored: an envelope whose event could not be stored is
// not acked, so Slack sends it again; the retry is stored once and acked.
func TestSocketModeUnstored(t *testing.T) {
	fake := newFakeSocketMode(t)
	rec := feedtest.NewRecorder(t)
	var failures atomic.Int32
	failures.Store(1)
	emit := func(ctx context.Context, e event.Event) error {
		if failures.Add(-1) >= 0 {
			return errors.New("nats: no responders available for request")
		}
		return rec.Emit(ctx, e)
	}
	run := feedtest.Start(t, buildSocket(t, fake.params()), emit)
	fake.connected(t)
	body := mention(t, "Ev0RETRY")
	fake.send(t, "env-retry", body, 0)
	fake.noAck(t)
	fake.send(t, "env-retry", body, 1)
	fake.ack(t, "env-retry")
	if evs := rec.WaitFor(t, 1, 10*time.Second); len(evs) != 1 || evs[0].ID() != "Ev0RETRY" {
		t.Errorf("events %v", evs)
	}
	_ = run.Stop(t)
}

// TestSocketModeRefused: a token Slack refuses ends Run with Slack's
// error (the manager shows it and tries again later); so does a
// WebSocket URL at an address the egress policy refuses, checked when
// dialing.
func TestSocketModeRefused(t *testing.T) {
	fake := newFakeSocketMode(t)
	fake.set("invalid_auth", "")
	run := feedtest.Start(t, buildSocket(t, fake.params()), feedtest.NewRecorder(t).Emit)
	if err := run.Wait(t, 10*time.Second); err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Errorf("Run with a refused token: %v", err)
	}

	port := fake.srv.URL[strings.LastIndex(fake.srv.URL, ":"):]
	fake.set("", "ws://127.0.0.2"+port+"/link")
	prov, _ := feeds.Registered().Lookup("slack/events")
	cfg := feedtest.Config(fake.params())
	cfg.Egress = egress.MustParse("127.0.0.1")
	f, err := prov.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run = feedtest.Start(t, f, feedtest.NewRecorder(t).Emit)
	if err := run.Wait(t, 10*time.Second); !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Errorf("Run with a refused WebSocket address: %v", err)
	}
}

func TestSocketParams(t *testing.T) {
	prov, _ := feeds.Registered().Lookup("slack/events")
	for _, tc := range []struct {
		name    string
		p       feeds.Params
		invalid string
	}{
		{"neither secret nor app token", feeds.Params{}, "signingSecret"},
		{"bot token as app token", feedtest.Params("appToken", "xoxb-123"), "appToken"},
		{"apiUrl on loopback", feedtest.Params("appToken", appToken, "apiUrl", "http://127.0.0.1:9/api/"), "apiUrl"},
		{"apiUrl to metadata", feedtest.Params("appToken", appToken, "apiUrl", "http://169.254.169.254/"), "apiUrl"},
		{"apiUrl not http", feedtest.Params("appToken", appToken, "apiUrl", "ftp://slack.com/api/"), "apiUrl"},
		{"app token alone", feedtest.Params("appToken", appToken), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := prov.Build(feedtest.Config(tc.p))
			var pe *feeds.ParamError
			switch {
			case tc.invalid == "" && err != nil:
				t.Fatalf("valid parameters refused: %v", err)
			case tc.invalid == "":
				if _, ok := f.(feeds.Feed); !ok {
					t.Errorf("%T is not a feeds.Feed", f)
				}
			case !errors.As(err, &pe) || pe.Name != tc.invalid:
				t.Errorf("got %v, want a *feeds.ParamError naming %s", err, tc.invalid)
			}
		})
	}
}
