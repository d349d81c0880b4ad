package gustcmd

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack/slacktest"
)

// slackPosts is slack-go's slacktest server that also keeps the
// chat.postMessage requests it got.
type slackPosts struct {
	*slacktest.Server
	mu    sync.Mutex
	posts []url.Values
}

func newSlack(t *testing.T) *slackPosts {
	s := &slackPosts{}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			v, _ := url.ParseQuery(string(b))
			s.mu.Lock()
			s.posts = append(s.posts, v)
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if v.Get("channel") == "C-unknown" {
				_, _ = w.Write([]byte(`{"ok":false,"error":"channel_not_found"}`))
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": v.Get("channel"), "ts": "1700000000.000100"})
		})
	})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func (s *slackPosts) all() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.posts...)
}

// TestE2EBuiltinActions: /whisk.system/slack/post and
// /whisk.system/github/comment run in Gust without a container, through a
// package binding that holds the token, in a sequence, with activation
// records, logs and errors like any action.
func TestE2EBuiltinActions(t *testing.T) {
	requireEngine(t)
	sl := newSlack(t)
	var ghMu sync.Mutex
	var comments []map[string]any
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ghMu.Lock()
		defer ghMu.Unlock()
		var c map[string]any
		_ = json.NewDecoder(r.Body).Decode(&c)
		c["path"], c["auth"] = r.URL.Path, r.Header.Get("Authorization")
		comments = append(comments, c)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":77,"html_url":"https://github.com/Codertocat/Hello-World/issues/1#issuecomment-77"}`))
	}))
	defer gh.Close()
	dir := t.TempDir()
	g := startGust(t, dir, "--egress-allow", "loopback") // the fakes are on loopback
	cli := cliEnv(dir)
	mustGust(t, cli, "package", "bind", "/whisk.system/slack", "myslack", "-p", "botToken", "xoxb-e2e", "-p", "apiUrl", sl.GetAPIURL())

	// A blocking invoke through the binding.
	var rec struct {
		ActivationID string   `json:"activationId"`
		Logs         []string `json:"logs"`
		Annotations  []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"annotations"`
		Response struct {
			Status  string         `json:"status"`
			Success bool           `json:"success"`
			Result  map[string]any `json:"result"`
		} `json:"response"`
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/myslack/post?blocking=true",
		map[string]any{"channel": "C123ABC456", "text": "Hello from Gust", "thread_ts": "1515449522.000016"}, &rec)
	if !rec.Response.Success || rec.Response.Result["ts"] != "1700000000.000100" || rec.Response.Result["channel"] != "C123ABC456" {
		t.Errorf("post: %+v", rec.Response)
	}
	if len(rec.Logs) != 1 || !strings.Contains(rec.Logs[0], "posted to C123ABC456") {
		t.Errorf("logs %q", rec.Logs)
	}
	kind := ""
	for _, a := range rec.Annotations {
		if a.Key == "kind" {
			kind, _ = a.Value.(string)
		}
	}
	if kind != "builtin" {
		t.Errorf("kind annotation %q", kind)
	}
	posts := sl.all()
	if len(posts) != 1 || posts[0].Get("text") != "Hello from Gust" || posts[0].Get("thread_ts") != "1515449522.000016" || posts[0].Get("token") != "xoxb-e2e" {
		t.Errorf("Slack got %v", posts)
	}
	// The stored record is there too.
	g.mustCall(t, 200, "GET", "/namespaces/_/activations/"+rec.ActivationID, nil, nil)

	// Slack's refusal is the activation's error.
	var failed struct {
		Response struct {
			Status string         `json:"status"`
			Result map[string]any `json:"result"`
		} `json:"response"`
	}
	if got := g.call(t, "POST", "/namespaces/_/actions/myslack/post?blocking=true", map[string]any{"channel": "C-unknown", "text": "x"}, &failed); got != http.StatusBadGateway {
		t.Errorf("refused post: %d", got)
	}
	if failed.Response.Status != "application error" || !strings.Contains(failed.Response.Result["error"].(string), "channel_not_found") {
		t.Errorf("refused post: %+v", failed.Response)
	}
	if got := g.call(t, "POST", "/namespaces/_/actions/myslack/post?blocking=true", map[string]any{"channel": "C1"}, &failed); got != http.StatusBadGateway ||
		!strings.Contains(failed.Response.Result["error"].(string), "'text'") {
		t.Errorf("post without text: %d %+v", got, failed.Response)
	}

	// In a sequence: a JavaScript action formats, slack/post sends.
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/format", nodeAction(`function main(p) { return { channel: "C777", text: "Issue #" + p.number + " opened" }; }`), nil)
	mustGust(t, cli, "action", "create", "notify", "--sequence", "format,myslack/post")
	var seq struct {
		Response struct {
			Success bool `json:"success"`
		} `json:"response"`
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/notify?blocking=true", map[string]any{"number": 42}, &seq)
	if posts := sl.all(); !seq.Response.Success || len(posts) < 3 || posts[len(posts)-1].Get("text") != "Issue #42 opened" || posts[len(posts)-1].Get("channel") != "C777" {
		t.Errorf("sequence: %+v, Slack got %v", seq.Response, posts)
	}

	// github/comment through go-github.
	g.mustCall(t, 200, "POST", "/namespaces/whisk.system/actions/github/comment?blocking=true", map[string]any{
		"repository": "Codertocat/Hello-World", "number": 1, "body": "Thanks!", "accessToken": "ghp_e2e", "baseUrl": gh.URL}, &rec)
	ghMu.Lock()
	if !rec.Response.Success || len(comments) != 1 || comments[0]["path"] != "/repos/Codertocat/Hello-World/issues/1/comments" ||
		comments[0]["body"] != "Thanks!" || comments[0]["auth"] != "Bearer ghp_e2e" {
		t.Errorf("comment: %+v, GitHub got %v", rec.Response, comments)
	}
	ghMu.Unlock()
}
