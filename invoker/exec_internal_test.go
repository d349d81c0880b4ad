package invoker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gusthub/gust/actions/proxy"
)

func TestIsErrorObject(t *testing.T) {
	for in, want := range map[string]bool{
		`{}`:                       false,
		`{"ok":true}`:              false,
		`{"message":"no error"}`:   false,
		`{"error":"boom"}`:         true,
		`{"a":1, "error" : {}}`:    true,
		`{"\u0065rror":"escaped"}`: true,
		`{"e\\rror":"not it"}`:     false,
		`{"nested":{"error":"x"}}`: false,
		`not json "error"`:         false,
	} {
		if got := isErrorObject([]byte(in)); got != want {
			t.Errorf("isErrorObject(%s) = %v, want %v", in, got, want)
		}
	}
}

// proxyStub is a Container whose proxy is an HTTP handler on loopback.
type proxyStub struct {
	Container // the rest is not used
	srv       *httptest.Server
}

func (p proxyStub) Client() *http.Client { return p.srv.Client() }
func (p proxyStub) BaseURL() string      { return p.srv.URL }

// A lead /run's time limit starts as it is sent, unless the proxy says it
// waits for its turn: then it waits as a queued one, its limit from its
// 102. A queued one's limit starts with its 102 in any case.
func TestPostQueuedLead(t *testing.T) {
	const limit = 200 * time.Millisecond
	processing := func(w http.ResponseWriter, waiting bool) {
		if waiting {
			w.Header().Set(proxy.QueueHeader, proxy.QueueWaiting)
		}
		w.WriteHeader(http.StatusProcessing)
		w.Header().Del(proxy.QueueHeader)
	}
	for _, tc := range []struct {
		name    string
		lead    bool
		handler func(w http.ResponseWriter, r *http.Request)
		timeout bool // the answer is cut by the time limit
		waited  bool
	}{
		{"lead started at once, within its limit", true, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(limit / 4)
			_, _ = w.Write([]byte(`{}`))
		}, false, false},
		{"lead started at once, past its limit", true, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * limit)
			_, _ = w.Write([]byte(`{}`))
		}, true, false},
		{"lead that waits past its limit, then runs within it", true, func(w http.ResponseWriter, r *http.Request) {
			processing(w, true)
			time.Sleep(2 * limit)
			processing(w, false)
			time.Sleep(limit / 4)
			_, _ = w.Write([]byte(`{}`))
		}, false, true},
		{"queued, started past its limit, runs within it", false, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * limit)
			processing(w, false)
			time.Sleep(limit / 4)
			_, _ = w.Write([]byte(`{}`))
		}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lead atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				lead.Store(r.Header.Get(proxy.LeadHeader) != "")
				tc.handler(w, r)
			}))
			defer srv.Close()
			var waited, started bool
			ans, err := postQueued(t.Context(), proxyStub{srv: srv}, []byte(`{}`), limit, 0,
				runAs{queued: true, lead: tc.lead, onWait: func() { waited = true }, onStart: func() { started = true }})
			if lead.Load() != tc.lead {
				t.Errorf("%s header set %t, want %t", proxy.LeadHeader, lead.Load(), tc.lead)
			}
			if tc.timeout != errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err %v, want the time limit's %t", err, tc.timeout)
			}
			if !tc.timeout && (err != nil || ans.status != http.StatusOK) {
				t.Errorf("answer %d, %v: want 200", ans.status, err)
			}
			if waited != tc.waited || ans.waited != tc.waited {
				t.Errorf("waited: heard %t, answer says %t; want %t", waited, ans.waited, tc.waited)
			}
			if want := !tc.lead || tc.waited; started != want || ans.started.IsZero() == want {
				t.Errorf("started: heard %t, at %v; want a start from a 102 %t", started, ans.started, want)
			}
		})
	}
}

// The time an action took in its container comes from the proxy's
// answer (proxy.RunTimeHeader) when it says, and is unknown otherwise.
func TestPostReadsRunTime(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"1234", 1234 * time.Microsecond},
		{"", 0},
		{"soon", 0},
		{"-5", 0},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.header != "" {
				w.Header().Set(proxy.RunTimeHeader, tc.header)
			}
			_, _ = w.Write([]byte(`{}`))
		}))
		ans, err := post(t.Context(), proxyStub{srv: srv}, "/run", []byte(`{}`), time.Second, 0)
		srv.Close()
		if err != nil || ans.took != tc.want {
			t.Errorf("%s %q: took %s, err %v; want %s", proxy.RunTimeHeader, tc.header, ans.took, err, tc.want)
		}
	}
}
