package slack_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/feeds/webhook/ingress/ingresstest"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

func build(t testing.TB, kv ...string) feeds.Source {
	t.Helper()
	params := feeds.Params{}
	params.Set("signingSecret", signingSecret)
	for i := 0; i+1 < len(kv); i += 2 {
		params.Set(kv[i], kv[i+1])
	}
	return feedtest.Build(t, "slack/events", feedtest.Config(params))
}

// Sign returns Slack's v0 signature of body at timestamp ts.
func sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%d:", ts)
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// request is a Slack Events API request, signed now with key.
func request(body []byte, key string, at time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/feeds/guest/feedtest", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(at.Unix(), 10))
	r.Header.Set("X-Slack-Signature", sign(key, at.Unix(), body))
	return r
}

// mention is the app_mention example with event_id id.
func mention(t testing.TB, id string) []byte {
	return bytes.Replace(feedtest.Testdata(t, "app_mention"), []byte(`"Ev0LAN670R"`), []byte(strconv.Quote(id)), 1)
}

func TestConformance(t *testing.T) {
	p, _ := feeds.Registered().Lookup("slack/events")
	params := feeds.Params{}
	params.Set("signingSecret", signingSecret)
	feedtest.Run(t, feedtest.Case{
		Provider: p,
		Params:   params,
		Produce: func(t *testing.T, f feeds.Source, emit feeds.Emit, i int) {
			if w := feedtest.Deliver(t, f, emit, request(mention(t, fmt.Sprintf("Ev%04d", i)), signingSecret, time.Now())); w.Code != http.StatusOK {
				t.Fatalf("event %d: %d %s", i, w.Code, w.Body)
			}
		},
	})
}

func TestURLVerification(t *testing.T) {
	rec := feedtest.NewRecorder(t)
	w := feedtest.Deliver(t, build(t), rec.Emit, request(feedtest.Testdata(t, "url_verification"), signingSecret, time.Now()))
	// Slack's url_verification page: 200, text/plain, the bare challenge.
	const want = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/plain" || w.Body.String() != want {
		t.Errorf("answered %d %q %q, want 200 %q %q", w.Code, w.Header().Get("Content-Type"), w.Body, "text/plain", want)
	}
	if len(rec.Events()) != 0 {
		t.Error("url_verification fired the trigger")
	}
}

func TestAppMention(t *testing.T) {
	rec := feedtest.NewRecorder(t)
	body := feedtest.Testdata(t, "app_mention")
	r := request(body, signingSecret, time.Now())
	r.Header.Set("X-Slack-Retry-Num", "1")
	w := feedtest.Deliver(t, build(t, "events", "app_mention,message"), rec.Emit, r)
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	e := rec.Events()[0]
	if e.ID() != "Ev0LAN670R" || e.Type() != "com.slack.app_mention" || e.Source() != "https://slack.com/T061EG9R6" || e.Subject() != "C123ABC456" {
		t.Errorf("id %q type %q source %q subject %q", e.ID(), e.Type(), e.Source(), e.Subject())
	}
	if !e.Time().Equal(time.Unix(1515449522, 0)) || e.DataContentType() != "application/json" || !bytes.Equal(e.Data(), body) {
		t.Errorf("time %v, datacontenttype %q, data %s", e.Time(), e.DataContentType(), e.Data())
	}
	if err := e.Validate(); err != nil {
		t.Error(err)
	}
}

func TestFiltered(t *testing.T) {
	status, msg, n := ingresstest.Send(t, build(t, "events", "message"), request(feedtest.Testdata(t, "app_mention"), signingSecret, time.Now()))
	if status != http.StatusOK || n != 0 {
		t.Errorf("%d %q, %d events", status, msg, n)
	}
}

func TestNewEventType(t *testing.T) {
	body := []byte(`{"type":"event_callback","team_id":"T1","event_id":"Ev9","event_time":1700000000,"event":{"type":"future_thing","channel":"C9"}}`)
	rec := feedtest.NewRecorder(t)
	w := feedtest.Deliver(t, build(t), rec.Emit, request(body, signingSecret, time.Now()))
	if w.Code != http.StatusOK || len(rec.Events()) != 1 || rec.Events()[0].Type() != "com.slack.future_thing" {
		t.Errorf("%d %s %v", w.Code, w.Body, rec.Events())
	}
}

func TestBadInput(t *testing.T) {
	body := feedtest.Testdata(t, "app_mention")
	now := time.Now()
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		want   string
	}{
		{"wrong secret", request(body, "another-secret", now), 401, "signature"},
		{"tampered", func() *http.Request {
			r := request(body, signingSecret, now)
			r.Body = httptestBody(bytes.Replace(body, []byte("river"), []byte("ocean"), 1))
			return r
		}(), 401, "signature"},
		{"no signature", func() *http.Request {
			r := request(body, signingSecret, now)
			r.Header.Del("X-Slack-Signature")
			return r
		}(), 401, "X-Slack-Signature"},
		{"stale timestamp", request(body, signingSecret, now.Add(-6*time.Minute)), 401, "5 minutes"},
		{"future timestamp", request(body, signingSecret, now.Add(6*time.Minute)), 401, "5 minutes"},
		{"malformed timestamp", func() *http.Request {
			r := request(body, signingSecret, now)
			r.Header.Set("X-Slack-Request-Timestamp", "soon")
			return r
		}(), 401, "malformed"},
		{"malformed JSON", request([]byte(`{"type":`), signingSecret, now), 400, "not a Slack"},
		{"callback without event", request([]byte(`{"type":"event_callback","team_id":"T1","event_id":"E1"}`), signingSecret, now), 400, "event"},
		{"callback without event_id", request([]byte(`{"type":"event_callback","team_id":"T1","event":{"type":"app_mention"}}`), signingSecret, now), 400, "event_id"},
		{"too large", request(bytes.Repeat([]byte(" "), 1<<20+1), signingSecret, now), 413, "larger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ingresstest.Refused(t, build(t), tc.req, tc.status, tc.want)
		})
	}
}

func TestMissingSigningSecret(t *testing.T) {
	p, _ := feeds.Registered().Lookup("slack/events")
	if _, err := p.Build(feedtest.Config(feeds.Params{})); err == nil || !strings.Contains(err.Error(), "signingSecret") {
		t.Errorf("got %v", err)
	}
}

func httptestBody(b []byte) *readCloser { return &readCloser{bytes.NewReader(b)} }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// FuzzReceive sends the receiver arbitrary bodies, signed with the feed's
// secret now (so that fuzzing reaches the parsing) or not. A 200 emits at
// most one valid event; a refusal none; nothing panics or answers 5xx.
func FuzzReceive(f *testing.F) {
	f.Add(feedtest.Testdata(f, "app_mention"), true)
	f.Add(feedtest.Testdata(f, "url_verification"), true)
	f.Add([]byte(`{"type":"event_callback","team_id":"T1","event_id":"E1","event":{"type":"message","channel":{"id":"C1"}}}`), true)
	f.Add([]byte(`{"type":"app_rate_limited","team_id":"T1"}`), true)
	f.Add([]byte(`{}`), false)
	fd := build(f)
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		key := signingSecret
		if !signed {
			key = "not-the-secret"
		}
		emit, emitted := feedtest.ValidEmit(t)
		w := feedtest.Deliver(t, fd, emit, request(body, key, time.Now()))
		switch {
		case w.Code >= 500:
			t.Fatalf("answered %d (%s)", w.Code, w.Body)
		case w.Code != http.StatusOK && emitted() > 0:
			t.Fatalf("answered %d but emitted", w.Code)
		case emitted() > 1:
			t.Fatalf("emitted %d events for one request", emitted())
		case !signed && w.Code != http.StatusUnauthorized:
			t.Fatalf("a wrongly signed request got %d", w.Code)
		}
	})
}
