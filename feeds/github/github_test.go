package github_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/feeds/github"
	"github.com/gusthub/gust/feeds/webhook/ingress"
	"github.com/gusthub/gust/feeds/webhook/ingress/ingresstest"
)

const secret = "It's a Secret to Everybody"

func params(kv ...string) feeds.Params {
	p := feeds.Params{"repository": json.RawMessage(`"Codertocat/Hello-World"`), "secret": json.RawMessage(`"` + secret + `"`)}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	return p
}

// build builds the feed from cfg as the manager does.
func build(cfg feeds.Config) (feeds.Source, error) {
	p, _ := feeds.Registered().Lookup("github/webhook")
	return p.Build(cfg)
}

// config is feedtest.Config allowing loopback, where the fake GitHub is.
func config(p feeds.Params) feeds.Config {
	cfg := feedtest.Config(p)
	cfg.Egress = egress.MustParse(egress.Loopback)
	return cfg
}

func newFeed(t testing.TB, p feeds.Params) feeds.Source {
	t.Helper()
	return feedtest.Build(t, "github/webhook", config(p))
}

// delivery is a request as GitHub makes it: the body signed with key,
// JSON or form encoded.
func delivery(event, id string, payload []byte, form bool, key string) *http.Request {
	body, ct := payload, "application/json"
	if form {
		body, ct = []byte("payload="+url.QueryEscape(string(payload))), "application/x-www-form-urlencoded"
	}
	r := httptest.NewRequest(http.MethodPost, "/api/v1/feeds/guest/feedtest", bytes.NewReader(body))
	r.Header.Set("Content-Type", ct)
	r.Header.Set("User-Agent", "GitHub-Hookshot/044aadd")
	r.Header.Set("X-GitHub-Event", event)
	r.Header.Set("X-GitHub-Delivery", id)
	r.Header.Set("X-GitHub-Hook-ID", "292430182")
	r.Header.Set("X-Hub-Signature-256", ingress.Signature(key, body))
	return r
}

func TestConformance(t *testing.T) {
	p, ok := feeds.Registered().Lookup("github/webhook")
	if !ok {
		t.Fatal("github/webhook is not registered")
	}
	push := feedtest.Testdata(t, "push")
	feedtest.Run(t, feedtest.Case{
		Provider: p,
		Params:   params(),
		Produce: func(t *testing.T, f feeds.Source, emit feeds.Emit, i int) {
			r := delivery("push", fmt.Sprintf("72d3162e-cc78-11e3-81ab-4c9367dc%04d", i), push, false, secret)
			if w := feedtest.Deliver(t, f, emit, r); w.Code != http.StatusAccepted {
				t.Fatalf("delivery %d: %d %s", i, w.Code, w.Body)
			}
		},
	})
}

// TestDeliveries: real GitHub payloads, signed as GitHub signs them, in
// both encodings, become CloudEvents with the documented attributes and
// the payload as data, byte for byte.
func TestDeliveries(t *testing.T) {
	const repo = "https://github.com/Codertocat/Hello-World"
	all := params("events", "*")
	for _, tc := range []struct {
		file, event, typ, source, subject string
	}{
		{"push", "push", "com.github.push", repo, "refs/heads/master"},
		{"push-tag", "push", "com.github.push", repo, "refs/tags/simple-tag"},
		{"push-tag-delete", "push", "com.github.push", repo, "refs/tags/simple-tag"},
		{"push-branch-delete", "push", "com.github.push", repo, "refs/heads/feature-x"},
		{"delete", "delete", "com.github.delete", repo, "simple-tag"},
		{"pull_request.opened", "pull_request", "com.github.pull_request.opened", repo, "2"},
		{"issues.opened", "issues", "com.github.issues.opened", repo, "1"},
		{"issue_comment.created", "issue_comment", "com.github.issue_comment.created", repo, "1"},
		{"release.published", "release", "com.github.release.published", repo, "0.0.1"},
	} {
		for _, form := range []bool{false, true} {
			name := tc.file
			if form {
				name += "/form"
			}
			t.Run(name, func(t *testing.T) {
				body := feedtest.Testdata(t, tc.file)
				rec := feedtest.NewRecorder(t)
				w := feedtest.Deliver(t, newFeed(t, all), rec.Emit, delivery(tc.event, "d-"+tc.file, body, form, secret))
				if w.Code != http.StatusAccepted {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
				e := rec.Events()[0]
				if e.ID() != "d-"+tc.file || e.Type() != tc.typ || e.Source() != tc.source || e.Subject() != tc.subject {
					t.Errorf("id %q type %q source %q subject %q; want type %q source %q subject %q",
						e.ID(), e.Type(), e.Source(), e.Subject(), tc.typ, tc.source, tc.subject)
				}
				if e.DataContentType() != "application/json" || !bytes.Equal(e.Data(), body) {
					t.Errorf("datacontenttype %q, data differs from the payload: %.80s", e.DataContentType(), e.Data())
				}
				if err := e.Validate(); err != nil || e.Time().IsZero() {
					t.Errorf("invalid event (%v), time %v", err, e.Time())
				}
				var answer struct{ ID string }
				if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || answer.ID != e.ID() {
					t.Errorf("answer %s", w.Body)
				}
			})
		}
	}
}

// TestNotFired: pings (repository and organization hooks) and events the
// feed does not subscribe to are answered 200 and fire nothing.
func TestNotFired(t *testing.T) {
	for _, tc := range []struct {
		name, file, event string
		p                 feeds.Params
	}{
		{"ping", "ping", "ping", params()},
		{"org ping", "ping-org", "ping", feeds.Params{"organization": json.RawMessage(`"Octocoders"`), "secret": json.RawMessage(`"` + secret + `"`)}},
		{"issues on a push feed", "issues.opened", "issues", params()},
		{"push on an issues feed", "push", "push", params("events", "issues,pull_request")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, msg, n := ingresstest.Send(t, newFeed(t, tc.p), delivery(tc.event, "d-1", feedtest.Testdata(t, tc.file), false, secret))
			if status != http.StatusOK || n != 0 {
				t.Errorf("got %d %q with %d events, want 200 and none", status, msg, n)
			}
		})
	}
}

// TestNewEventType: an event type go-github v60 does not know passes
// through with its raw JSON.
func TestNewEventType(t *testing.T) {
	rec := feedtest.NewRecorder(t)
	body := []byte(`{"action":"created","repository":{"html_url":"https://github.com/o/r"},"thing":{"n":1}}`)
	w := feedtest.Deliver(t, newFeed(t, params("events", "*")), rec.Emit, delivery("future_event", "d-9", body, false, secret))
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if e := rec.Events()[0]; e.Type() != "com.github.future_event.created" || e.Source() != "https://github.com/o/r" || !bytes.Equal(e.Data(), body) {
		t.Errorf("type %q source %q data %s", e.Type(), e.Source(), e.Data())
	}
}

func TestBadInput(t *testing.T) {
	push := feedtest.Testdata(t, "push")
	body := func(b []byte, key string) func(*http.Request) {
		return func(r *http.Request) {
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.Header.Set("X-Hub-Signature-256", ingress.Signature(key, b))
		}
	}
	tampered := bytes.Replace(push, []byte(`"refs/heads/master"`), []byte(`"refs/heads/evil!!"`), 1)
	for _, tc := range []struct {
		name   string
		change func(*http.Request)
		status int
		want   string
	}{
		{"tampered body", func(r *http.Request) { r.Body = io.NopCloser(bytes.NewReader(tampered)) }, 401, "signature"},
		{"wrong secret", ingresstest.Header("X-Hub-Signature-256", ingress.Signature("another secret", push)), 401, "signature"},
		{"missing signature", ingresstest.Header("X-Hub-Signature-256", ""), 401, "X-Hub-Signature-256"},
		{"sha1 only", func(r *http.Request) {
			r.Header.Del("X-Hub-Signature-256")
			r.Header.Set("X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567")
		}, 401, "SHA-1"},
		{"sha1 in the sha256 header", ingresstest.Header("X-Hub-Signature-256", "sha1=0123456789abcdef0123456789abcdef01234567"), 401, "sha256"},
		{"malformed signature", ingresstest.Header("X-Hub-Signature-256", "sha256=zz"), 401, "signature"},
		{"malformed JSON", body([]byte(`{"ref":`), secret), 400, "JSON"},
		{"JSON of the wrong shape", body([]byte(`{"ref":5}`), secret), 400, "push"},
		{"form without payload", func(r *http.Request) {
			b := []byte("other=1")
			body(b, secret)(r)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}, 400, "JSON"},
		{"text body", ingresstest.Header("Content-Type", "text/plain"), 400, "Content-Type"},
		{"no event header", ingresstest.Header("X-GitHub-Event", ""), 400, "X-GitHub-Event"},
		{"odd event header", ingresstest.Header("X-GitHub-Event", "Push Event"), 400, "X-GitHub-Event"},
		{"no delivery header", ingresstest.Header("X-GitHub-Delivery", ""), 400, "X-GitHub-Delivery"},
		{"too large", body(bytes.Repeat([]byte(" "), github.MaxBody+1), secret), 413, "25"},
		{"GET", func(r *http.Request) { r.Method = http.MethodGet }, 405, "POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := delivery("push", "d-1", push, false, secret)
			tc.change(r)
			ingresstest.Refused(t, newFeed(t, params()), r, tc.status, tc.want)
		})
	}
}

func TestEmitFailure(t *testing.T) {
	fail := func(context.Context, event.Event) error { return errors.New("JetStream is away") }
	w := feedtest.Deliver(t, newFeed(t, params()), fail, delivery("push", "d", feedtest.Testdata(t, "push"), false, secret))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("got %d, want 500", w.Code)
	}
}

func TestParams(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       feeds.Params
		invalid string // the parameter named by the error, "" when valid
	}{
		{"owner/repo", feeds.Params{"repository": json.RawMessage(`"o/r"`)}, ""},
		{"username and repository", feeds.Params{"username": json.RawMessage(`"o"`), "repository": json.RawMessage(`"r"`)}, ""},
		{"organization", feeds.Params{"organization": json.RawMessage(`"octo-org"`)}, ""},
		{"events list", feeds.Params{"repository": json.RawMessage(`"o/r"`), "events": json.RawMessage(`"push, pull_request"`)}, ""},
		{"events array", feeds.Params{"repository": json.RawMessage(`"o/r"`), "events": json.RawMessage(`["push","issues"]`)}, ""},
		{"events array string", feeds.Params{"repository": json.RawMessage(`"o/r"`), "events": json.RawMessage(`"[\"push\"]"`)}, ""},
		{"nothing", feeds.Params{}, "repository"},
		{"repo alone", feeds.Params{"repository": json.RawMessage(`"r"`)}, "repository"},
		{"bad repository", feeds.Params{"repository": json.RawMessage(`"o/r/x"`)}, "repository"},
		{"username disagrees", feeds.Params{"repository": json.RawMessage(`"o/r"`), "username": json.RawMessage(`"p"`)}, "username"},
		{"organization and repository", feeds.Params{"repository": json.RawMessage(`"o/r"`), "organization": json.RawMessage(`"o"`)}, "organization"},
		{"bad event", feeds.Params{"repository": json.RawMessage(`"o/r"`), "events": json.RawMessage(`"push,Pull Request"`)}, "events"},
		{"events not strings", feeds.Params{"repository": json.RawMessage(`"o/r"`), "events": json.RawMessage(`[1]`)}, "events"},
		{"short secret", feeds.Params{"repository": json.RawMessage(`"o/r"`), "secret": json.RawMessage(`"abc"`)}, "secret"},
		{"bad baseUrl", feeds.Params{"repository": json.RawMessage(`"o/r"`), "baseUrl": json.RawMessage(`"ftp://x"`)}, "baseUrl"},
		{"baseUrl to metadata", feeds.Params{"repository": json.RawMessage(`"o/r"`), "baseUrl": json.RawMessage(`"http://169.254.169.254/latest/"`)}, "baseUrl"},
		{"baseUrl to loopback", feeds.Params{"repository": json.RawMessage(`"o/r"`), "baseUrl": json.RawMessage(`"http://127.0.0.1:8080/"`)}, "baseUrl"},
		{"baseUrl to localhost", feeds.Params{"repository": json.RawMessage(`"o/r"`), "baseUrl": json.RawMessage(`"http://localhost/api/v3"`)}, "baseUrl"},
		{"baseUrl to a private address", feeds.Params{"repository": json.RawMessage(`"o/r"`), "baseUrl": json.RawMessage(`"https://10.0.0.7/api/v3"`)}, "baseUrl"},
		{"baseUrl of GitHub Enterprise", feeds.Params{"repository": json.RawMessage(`"o/r"`), "baseUrl": json.RawMessage(`"https://ghe.example.com/api/v3"`)}, ""},
		{"bad hookId", feeds.Params{"repository": json.RawMessage(`"o/r"`), "hookId": json.RawMessage(`"x"`)}, "hookId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := feedtest.Config(tc.p)
			_, err := build(cfg)
			var pe *feeds.ParamError
			switch {
			case tc.invalid == "" && err != nil:
				t.Fatalf("valid parameters refused: %v", err)
			case tc.invalid == "":
				if s, ok, _ := cfg.Params.String("secret"); !tc.p.Has("secret") && (!ok || len(s) < 32) {
					t.Errorf("generated secret %q", s)
				}
			case !errors.As(err, &pe) || pe.Name != tc.invalid:
				t.Errorf("got %v, want a *feeds.ParamError naming %s", err, tc.invalid)
			}
		})
	}
}

// fakeGitHub is GitHub's hooks API, as much of it as the feed uses.
type fakeGitHub struct {
	mu       sync.Mutex
	created  []map[string]any // bodies of POST .../hooks
	deleted  []string         // paths of DELETE requests
	edited   []map[string]any // bodies of PATCH .../hooks/<id>, with their path
	gone     map[string]bool  // ids of hooks deleted on GitHub: PATCH answers 404
	auth     []string
	failWith int // answer POST with this status and GitHub's error body
	srv      *httptest.Server
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	g := &fakeGitHub{}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.auth = append(g.auth, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/hooks"):
		if g.failWith != 0 {
			w.WriteHeader(g.failWith)
			_, _ = w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook"}`))
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		body["path"] = r.URL.Path
		g.created = append(g.created, body)
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":%d,"type":"Repository","name":"web","active":true,"events":%s,"config":{"content_type":"json","url":%q}}`,
			1000+len(g.created), mustJSON(body["events"]), body["config"].(map[string]any)["url"])
	case r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/hooks/"):
		id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if g.gone[id] {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		body["path"] = r.URL.Path
		g.edited = append(g.edited, body)
		_, _ = fmt.Fprintf(w, `{"id":%s,"type":"Repository","name":"web","active":true,"events":%s}`, id, mustJSON(body["events"]))
	case r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/hooks/"):
		g.deleted = append(g.deleted, r.URL.Path)
		if strings.HasSuffix(r.URL.Path, "/404") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}`))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRegister: with an access token, Register creates the hook on GitHub
// with the feed's URL, secret and events, and Unregister deletes it.
func TestRegister(t *testing.T) {
	g := newFakeGitHub(t)
	p := params("accessToken", "ghp_test-token", "baseUrl", g.srv.URL+"/api/v3", "events", "push,issues")
	cfg := config(p)
	f, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := f.(feeds.Registrar)
	if err := reg.Register(context.Background(), cfg.Params); err != nil {
		t.Fatal(err)
	}
	if id, ok, _ := cfg.Params.Int("hookId"); !ok || id != 1001 {
		t.Errorf("hookId %d, %v", id, ok)
	}
	want := map[string]any{"path": "/api/v3/repos/Codertocat/Hello-World/hooks", "name": "web", "active": true,
		"events": []any{"push", "issues"},
		"config": map[string]any{"url": cfg.URL, "content_type": "json", "secret": secret, "insecure_ssl": "0"}}
	if len(g.created) != 1 || mustJSON(g.created[0]) != mustJSON(want) {
		t.Errorf("GitHub got %v,\nwant %v", g.created, want)
	}
	if g.auth[0] != "Bearer ghp_test-token" {
		t.Errorf("Authorization %q", g.auth[0])
	}
	// A feed built again from the stored parameters deletes that hook.
	f2, err := build(config(cfg.Params))
	if err != nil {
		t.Fatal(err)
	}
	if err := f2.(feeds.Registrar).Unregister(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(g.deleted) != 1 || g.deleted[0] != "/api/v3/repos/Codertocat/Hello-World/hooks/1001" {
		t.Errorf("deleted %v", g.deleted)
	}
	// A hook GitHub no longer has is gone already.
	p404 := cfg.Params.Clone()
	p404.Set("hookId", 404)
	if err := newFeed(t, p404).(feeds.Registrar).Unregister(context.Background()); err != nil {
		t.Errorf("unregister of a hook GitHub does not have: %v", err)
	}
}

func TestRegisterOrganization(t *testing.T) {
	g := newFakeGitHub(t)
	p := feeds.Params{"organization": json.RawMessage(`"Octocoders"`)}
	p.Set("accessToken", "ghp_test-token")
	p.Set("baseUrl", g.srv.URL)
	cfg := config(p)
	f, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.(feeds.Registrar).Register(context.Background(), cfg.Params); err != nil {
		t.Fatal(err)
	}
	if len(g.created) != 1 || g.created[0]["path"] != "/orgs/Octocoders/hooks" {
		t.Errorf("GitHub got %v", g.created)
	}
}

// TestRegisterError: GitHub's refusal fails Register with GitHub's message
// and a 400; an unreachable GitHub is a 502.
func TestRegisterError(t *testing.T) {
	g := newFakeGitHub(t)
	g.failWith = http.StatusNotFound
	cfg := config(params("accessToken", "ghp_bad", "baseUrl", g.srv.URL))
	f, _ := build(cfg)
	err := f.(feeds.Registrar).Register(context.Background(), cfg.Params)
	var re *feeds.RequestError
	if !errors.As(err, &re) || re.Status != http.StatusBadRequest || !strings.Contains(re.Message, "Not Found") || !strings.Contains(re.Message, "Codertocat/Hello-World") {
		t.Errorf("got %v", err)
	}
	if cfg.Params.Has("hookId") {
		t.Error("a failed registration set hookId")
	}
	g.srv.Close()
	err = f.(feeds.Registrar).Register(context.Background(), cfg.Params)
	if !errors.As(err, &re) || re.Status != http.StatusBadGateway {
		t.Errorf("unreachable GitHub: %v", err)
	}
}

// TestNoTokenRegistersNothing: without an access token the user creates
// the hook; Register and Unregister call nobody.
func TestNoTokenRegistersNothing(t *testing.T) {
	g := newFakeGitHub(t)
	cfg := config(params("baseUrl", g.srv.URL))
	f := newFeed(t, cfg.Params)
	if err := f.(feeds.Registrar).Register(context.Background(), cfg.Params); err != nil {
		t.Fatal(err)
	}
	if err := f.(feeds.Registrar).Unregister(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(g.auth) != 0 {
		t.Errorf("GitHub was called %d times", len(g.auth))
	}
}

// FuzzReceive sends the receiver arbitrary deliveries, signed with the
// feed's secret (so that fuzzing reaches past the signature check) or not.
// A 202 must have emitted exactly one valid event; any other answer none;
// nothing may panic or answer 5xx.
func FuzzReceive(f *testing.F) {
	f.Add("push", "d-1", "application/json", []byte(`{"ref":"refs/heads/main"}`), true)
	f.Add("ping", "d-2", "application/json", feedtest.Testdata(f, "ping-org"), true)
	f.Add("issues", "d-3", "application/x-www-form-urlencoded", []byte(`payload=%7B%22action%22%3A%22opened%22%7D`), true)
	f.Add("pull_request", "d-4", "application/json", []byte(`{"action":"opened","pull_request":{"number":"x"}}`), true)
	f.Add("push", "d-5", "text/plain", []byte(`{}`), true)
	f.Add("push", "", "application/json", []byte(`{}`), false)
	f.Add("new_thing", "d-6", "application/json; charset=utf-8", []byte(`{"action":"a b","repository":{"html_url":"::"}}`), true)
	fd := newFeed(f, params("events", "*"))
	f.Fuzz(func(t *testing.T, name, id, ct string, body []byte, sign bool) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/feeds/guest/feedtest", bytes.NewReader(body))
		for k, v := range map[string]string{"X-GitHub-Event": name, "X-GitHub-Delivery": id, "Content-Type": ct} {
			if !strings.ContainsAny(v, "\r\n") {
				r.Header.Set(k, v)
			}
		}
		if sign {
			r.Header.Set("X-Hub-Signature-256", ingress.Signature(secret, body))
		}
		emit, emitted := feedtest.ValidEmit(t)
		w := feedtest.Deliver(t, fd, emit, r)
		switch {
		case w.Code == http.StatusAccepted && emitted() != 1:
			t.Fatalf("answered 202 with %d events", emitted())
		case w.Code != http.StatusAccepted && emitted() != 0:
			t.Fatalf("answered %d (%s) but emitted %d events", w.Code, w.Body, emitted())
		case w.Code >= 500:
			t.Fatalf("answered %d (%s)", w.Code, w.Body)
		case !sign && w.Code != http.StatusUnauthorized:
			t.Fatalf("an unsigned delivery got %d", w.Code)
		}
	})
}
