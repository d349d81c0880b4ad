package gustcmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
	_ "github.com/gusthub/gust/feeds/cloudevents"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/feeds/webhook/ingress/ingresstest"
	"github.com/gusthub/gust/hub"
)

func TestCLIEventSend(t *testing.T) {
	ts := newTestServer(t)
	js := ts.hub.JetStream()
	if _, err := hub.OpenEvents(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	// stored is the last event stored on trigger guest/name.
	stored := func(t *testing.T, name string) event.Event {
		t.Helper()
		st, err := js.Stream(t.Context(), hub.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetLastMsgForSubject(t.Context(), hub.EventSubject("guest", name))
		if err != nil {
			t.Fatal(err)
		}
		e, err := hub.DecodeEvent(m.Header, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	dataFile := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(dataFile, []byte("{\n  \"from\": \"file\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	activation := regexp.MustCompile(`^ok: sent event e-\w+ to trigger t with id [0-9a-f]{32}\n$`)
	intact := func(id, subject, data string) func(t *testing.T) {
		return func(t *testing.T) {
			e := stored(t, "t")
			if e.ID() != id || e.Type() != "com.example.order.created" || e.Source() != "https://shop.example.com" ||
				e.Subject() != subject || e.Extensions()["tenant"] != "acme" || string(e.Data()) != data {
				t.Errorf("stored %s", e)
			}
		}
	}
	send := []string{"event", "send", "t", "--type", "com.example.order.created", "--source", "https://shop.example.com", "--extension", "tenant=acme"}
	runSteps(t, ts.env(), []step{
		{name: "action", args: []string{"action", "create", "hello", "testdata/cli/hello.js"}, stdout: "ok: created action hello\n"},
		{name: "trigger", args: []string{"trigger", "create", "t"}, stdout: "ok: created trigger t\n"},
		{name: "idle trigger", args: []string{"trigger", "create", "idle"}, stdout: "ok: created trigger idle\n"},
		{name: "rule", args: []string{"rule", "create", "r", "t", "hello"}, stdout: "ok: created rule r\n"},
		{name: "structured", args: append(send, "--id", "e-1", "--subject", "order 42 ü", "--data", `{"order": 42}`),
			stdout: "ok: sent event e-1 to trigger t with id ", prefix: true, after: func(t *testing.T) { intact("e-1", "order 42 ü", `{"order":42}`)(t) }},
		{name: "binary", args: append(send, "--id", "e-2", "--mode", "binary", "--data", "@"+dataFile),
			stdout: "ok: sent event e-2 to trigger t with id ", prefix: true, after: intact("e-2", "", `{"from":"file"}`)},
		{name: "events alias", args: []string{"events", "send", "t", "--type", "com.example.order.created", "--id", "e-3"},
			stdout: "ok: sent event e-3 to trigger t with id ", prefix: true, after: func(t *testing.T) {
				if e := stored(t, "t"); e.ID() != "e-3" || e.Source() != "/gust/cli" || len(e.Data()) != 0 {
					t.Errorf("stored %s", e)
				}
			}},
		{name: "no active rule", args: []string{"event", "send", "idle", "--type", "x.y", "--id", "e-4"},
			stdout: "ok: sent event e-4 to trigger idle; no rule of it is active\n"},
		{name: "json", args: []string{"event", "send", "idle", "--type", "x.y", "--id", "e-5", "--json"}, stdout: "{}\n"},
		{name: "missing trigger", args: []string{"event", "send", "nope", "--type", "x.y"},
			errMsg: "Unable to send event to trigger 'nope': The requested resource does not exist.", code: 404 & 0xff},
		{name: "no type", args: []string{"event", "send", "t"}, errMsg: "--type is required", code: exitUsage},
		{name: "no trigger", args: []string{"event", "send", "--type", "x.y"}, errMsg: "give a TRIGGER", code: exitUsage},
		{name: "bad mode", args: []string{"event", "send", "t", "--type", "x.y", "--mode", "batch"}, errMsg: "--mode", code: exitUsage},
		{name: "bad extension", args: []string{"event", "send", "t", "--type", "x.y", "--extension", "Bad_Name=1"}, errMsg: "--extension", code: exitUsage},
		{name: "broken JSON", args: []string{"event", "send", "t", "--type", "x.y", "--data", `{bad`}, errMsg: "--data starts as JSON but is not valid JSON", code: exitUsage},
		{name: "broken JSON as JSON", args: []string{"event", "send", "t", "--type", "x.y", "--data", `"open`, "--datacontenttype", "application/json"},
			errMsg: "--data is not valid JSON, which --datacontenttype application/json says it is", code: exitUsage},
		{name: "broken JSON with a charset", args: []string{"event", "send", "t", "--type", "x.y", "--data", `{bad`, "--datacontenttype", "Application/JSON; charset=utf-8"},
			errMsg: "--data is not valid JSON", code: exitUsage},
		{name: "JSON that only a float64 cannot hold", args: []string{"event", "send", "t", "--type", "x.y", "--id", "e-7", "--data", `{"n":1e400}`},
			stdout: "ok: sent event e-7 to trigger t with id ", prefix: true, after: func(t *testing.T) {
				if e := stored(t, "t"); e.ID() != "e-7" || string(e.Data()) != `{"n":1e400}` || e.DataContentType() != "application/json" {
					t.Errorf("stored %s", e)
				}
			}},
		{name: "braces as text", args: []string{"event", "send", "t", "--type", "x.y", "--id", "e-6", "--data", `{bad`, "--datacontenttype", "text/plain"},
			stdout: "ok: sent event e-6 to trigger t with id ", prefix: true, after: func(t *testing.T) {
				if e := stored(t, "t"); e.ID() != "e-6" || string(e.Data()) != "{bad" || e.DataContentType() != "text/plain" {
					t.Errorf("stored %s", e)
				}
			}},
	})
	for _, mode := range []string{"structured", "binary"} {
		t.Run(mode, func(t *testing.T) {
			r := gust(t, ts.env(), append(send, "--id", "e-"+mode, "--mode", mode, "--data", `[1,2]`)...)
			if r.err != nil || !activation.MatchString(r.stdout) {
				t.Fatalf("%q %v", r.stdout, r.err)
			}
			intact("e-"+mode, "", `[1,2]`)(t)
		})
	}
}

func TestCLIEventSendURL(t *testing.T) {
	const token, secret = "feed-token-123", "feed-secret-123"
	for _, tc := range []struct {
		name   string
		param  string
		value  string
		flags  []string
		errMsg string
		code   int
	}{
		{name: "token", param: "token", value: token, flags: []string{"--token", token}},
		{name: "token binary", param: "token", value: token, flags: []string{"--token", token, "--mode", "binary"}},
		{name: "secret", param: "secret", value: secret, flags: []string{"--secret", secret}},
		{name: "wrong token", param: "token", value: token, flags: []string{"--token", "not-the-token"}, errMsg: "The token is not this feed's.", code: 401 & 0xff},
		{name: "wrong secret", param: "secret", value: secret, flags: []string{"--secret", "not-the-secret"}, errMsg: "signature", code: 401 & 0xff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := feeds.Registered().Lookup("cloudevents/ingress")
			f, err := p.Build(feedtest.Config(feeds.Params{tc.param: json.RawMessage(`"` + tc.value + `"`)}))
			if err != nil {
				t.Fatal(err)
			}
			rec := feedtest.NewRecorder(t)
			srv := ingresstest.Server(t, f, rec.Emit)
			args := append([]string{"event", "send", "--url", srv.URL, "--type", "com.example.ping", "--id", "p-1", "--data", "hi"}, tc.flags...)
			want := ""
			if tc.errMsg == "" {
				want = "ok: sent event p-1 to " + srv.URL + "\n"
			}
			gust(t, func(string) string { return "" }, args...).check(t, want, tc.errMsg, tc.code)
			if evs := rec.Events(); tc.errMsg == "" && (len(evs) != 1 || evs[0].ID() != "p-1" || string(evs[0].Data()) != "hi" || evs[0].DataContentType() != "text/plain") {
				t.Errorf("events %v", evs)
			}
		})
	}
}
