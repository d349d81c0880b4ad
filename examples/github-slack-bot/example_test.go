package githubslackbot_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/gusthub/gust/internal/dockertest"
	"github.com/gusthub/gust/internal/exampletest"
)

// post sends body to a feed URL with the headers and returns the status.
func post(t *testing.T, target string, body []byte, headers map[string]string) int {
	t.Helper()
	status, _, _ := send(t, target, body, headers)
	return status
}

// send is post that also returns the answer's Content-Type and body.
func send(t *testing.T, target string, body []byte, headers map[string]string) (status int, contentType, answer string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func hmacHex(key string, parts ...[]byte) string {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBot runs the README's commands, then delivers a GitHub push, a pull
// request and an issue (real payloads, signed with the feed's secret) and
// a Slack app_mention (signed with the signing secret), and checks what
// the bot posted to slacktest.
func TestBot(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end example; -short")
	}
	dockertest.Require(t, nil)
	var mu sync.Mutex
	var posts []url.Values
	sl := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			v, _ := url.ParseQuery(string(b))
			mu.Lock()
			posts = append(posts, v)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": v.Get("channel"), "ts": "1700000000.000200"})
		})
	})
	sl.Start()
	defer sl.Stop()
	g := exampletest.Serve(t, "--sandbox", "docker", "--stem-cells", "0", "--pause-grace", "0", "--invoker-memory", "1024",
		"--egress-allow", "loopback") // the fake Slack is on loopback, which Gust refuses to call unless allowed

	const (
		botToken      = "xoxb-example"
		signingSecret = "example-signing-secret"
		channel       = "C0123ABCDEF"
		ghSecret      = "example-github-secret"
	)
	// The README's commands; the binding also points slack/post at slacktest,
	// and the GitHub feed gets a secret instead of creating the hook.
	g.Run(t, "package", "bind", "/whisk.system/slack", "bot", "-p", "botToken", botToken, "-p", "apiUrl", sl.GetAPIURL())
	g.Run(t, "action", "create", "format", "format.js", "-p", "channel", channel)
	g.Run(t, "action", "create", "reply", "reply.js")
	g.Run(t, "action", "create", "notify", "--sequence", "format,bot/post")
	g.Run(t, "action", "create", "answer", "--sequence", "reply,bot/post")
	g.Run(t, "trigger", "create", "github", "--feed", "github/webhook", "-p", "repository", "Codertocat/Hello-World",
		"-p", "events", "push,pull_request,issues", "-p", "secret", ghSecret)
	g.Run(t, "rule", "create", "github-to-slack", "github", "notify")
	g.Run(t, "trigger", "create", "mentions", "--feed", "slack/events", "-p", "signingSecret", signingSecret, "-p", "events", "app_mention")
	g.Run(t, "rule", "create", "answer-mentions", "mentions", "answer")

	feeds := "http://" + g.Addr + "/api/v1/feeds/guest/"
	// Slack verifies the request URL first.
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	challenge := []byte(`{"token":"x","challenge":"ch-123","type":"url_verification"}`)
	status, ctype, answer := send(t, feeds+"mentions", challenge, map[string]string{"Content-Type": "application/json",
		"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + hmacHex(signingSecret, []byte("v0:"+ts+":"), challenge)})
	if status != http.StatusOK || ctype != "text/plain" || answer != "ch-123" {
		t.Fatalf("url_verification answered %d %q %q, want 200 text/plain ch-123", status, ctype, answer)
	}
	for _, d := range []struct{ event, file string }{
		{"push", "push"}, {"pull_request", "pull_request.opened"}, {"issues", "issues.opened"}, {"release", "release.published"},
	} {
		body := readFile(t, "../../feeds/github/testdata/"+d.file+".json")
		if got := post(t, feeds+"github", body, map[string]string{"Content-Type": "application/json", "X-GitHub-Event": d.event,
			"X-GitHub-Delivery": "delivery-" + d.file, "X-Hub-Signature-256": "sha256=" + hmacHex(ghSecret, body)}); got/100 != 2 {
			t.Fatalf("GitHub %s: %d", d.event, got)
		}
	}
	mention := readFile(t, "../../feeds/slack/testdata/app_mention.json")
	if got := post(t, feeds+"mentions", mention, map[string]string{"Content-Type": "application/json",
		"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + hmacHex(signingSecret, []byte("v0:"+ts+":"), mention)}); got != http.StatusOK {
		t.Fatalf("app_mention: %d", got)
	}

	want := map[string]func(url.Values) bool{
		"push": func(v url.Values) bool {
			return v.Get("channel") == channel && strings.Contains(v.Get("text"), "Codertocat pushed 1 commit to refs/heads/master of Codertocat/Hello-World")
		},
		"pull request": func(v url.Values) bool {
			return v.Get("channel") == channel && strings.Contains(v.Get("text"), "Pull request #2 opened in Codertocat/Hello-World: Update the README with new information.")
		},
		"issue": func(v url.Values) bool {
			return v.Get("channel") == channel && strings.Contains(v.Get("text"), "Issue #1 opened in Codertocat/Hello-World: Spelling error in the README file")
		},
		"answer": func(v url.Values) bool {
			return v.Get("channel") == "C123ABC456" && v.Get("thread_ts") == "1515449522.000016" &&
				strings.Contains(v.Get("text"), `You asked: "is it everything a river should be?"`)
		},
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		mu.Lock()
		got := append([]url.Values(nil), posts...)
		mu.Unlock()
		missing := []string{}
		for name, ok := range want {
			found := false
			for _, v := range got {
				found = found || (ok(v) && v.Get("token") == botToken)
			}
			if !found {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			if len(got) != len(want) {
				t.Errorf("Slack got %d messages, want %d: %v", len(got), len(want), got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("missing Slack messages %v; got %v\n%s", missing, got, g.Run(t, "activation", "list"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
