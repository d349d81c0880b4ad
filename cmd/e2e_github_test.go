package gustcmd

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
)

// githubPayload is a real GitHub payload from feeds/github/testdata.
func githubPayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../feeds/github/testdata/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postGitHub delivers payload to url as GitHub does: signed with secret,
// JSON or form encoded. It returns the answer's status.
func postGitHub(t *testing.T, target, secret, event, delivery string, payload []byte, form bool) int {
	t.Helper()
	body, ct := payload, "application/json"
	if form {
		body, ct = []byte("payload="+url.QueryEscape(string(payload))), "application/x-www-form-urlencoded"
	}
	req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// githubHooks is GitHub's hooks API for one repository, as a fake.
type githubHooks struct {
	mu      sync.Mutex
	created []map[string]any
	edited  []map[string]any // PATCH bodies, with their path
	deleted []string
	refuse  bool
}

func (g *githubHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case g.refuse:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`))
	case r.Method == http.MethodPost && r.URL.Path == "/repos/Codertocat/Hello-World/hooks":
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		g.created = append(g.created, body)
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":%d,"name":"web","active":true}`, 4200+len(g.created))
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/repos/Codertocat/Hello-World/hooks/"):
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		body["path"] = r.URL.Path
		g.edited = append(g.edited, body)
		_, _ = fmt.Fprintf(w, `{"id":%s,"name":"web","active":true}`, strings.TrimPrefix(r.URL.Path, "/repos/Codertocat/Hello-World/hooks/"))
	case r.Method == http.MethodDelete:
		g.deleted = append(g.deleted, r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}`))
	}
}

// TestE2EGitHubFeed: `trigger create --feed github/webhook` with an access
// token registers the hook on (fake) GitHub with the public URL; real
// signed payloads, JSON and form encoded, reach the rule's action with the
// event's attributes; a redelivery and a ping run nothing; a refused
// registration leaves no trigger; deleting the trigger removes the hook.
func TestE2EGitHubFeed(t *testing.T) {
	requireEngine(t)
	hooks := &githubHooks{}
	gh := httptest.NewServer(hooks)
	defer gh.Close()
	dir := t.TempDir()
	// The fake GitHub is on loopback, which Gust refuses to call unless allowed.
	g := startGust(t, dir, "--public-url", "https://gust.example.com/", "--egress-allow", "loopback")
	cli := cliEnv(dir)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/echo", nodeAction(echoCode), nil)
	const secret = "e2e-github-secret"
	out := mustGust(t, cli, "trigger", "create", "pushes", "--feed", "github/webhook", "-p", "repository", "Codertocat/Hello-World",
		"-p", "events", "push,issues", "-p", "secret", secret, "-p", "accessToken", "ghp_e2e", "-p", "baseUrl", gh.URL)
	if !strings.Contains(out, "pushes") {
		t.Errorf("create said %q", out)
	}
	mustGust(t, cli, "rule", "create", "r", "pushes", "echo")
	hooks.mu.Lock()
	if len(hooks.created) != 1 {
		t.Fatalf("GitHub got %d hook creations", len(hooks.created))
	}
	cfg := hooks.created[0]["config"].(map[string]any)
	if cfg["url"] != "https://gust.example.com/api/v1/feeds/guest/pushes" || cfg["secret"] != secret || cfg["content_type"] != "json" {
		t.Errorf("hook config %v", cfg)
	}
	hooks.mu.Unlock()
	if got := mustGust(t, cli, "trigger", "get", "pushes"); !strings.Contains(got, "4201") || strings.Contains(got, "ghp_e2e") || strings.Contains(got, secret) {
		t.Errorf("trigger get shows no hookId, or a secret:\n%s", got)
	}

	feedURL := strings.TrimSuffix(g.base, "/api/v1") + "/api/v1/feeds/guest/pushes"
	push, issues, ping := githubPayload(t, "push"), githubPayload(t, "issues.opened"), githubPayload(t, "ping")
	for _, d := range []struct {
		event, id string
		body      []byte
		form      bool
		want      int
	}{
		{"ping", "d-ping", ping, false, http.StatusOK},
		{"push", "d-push", push, false, http.StatusAccepted},
		{"push", "d-push", push, false, http.StatusAccepted}, // redelivery
		{"issues", "d-issue", issues, true, http.StatusAccepted},
		{"release", "d-release", githubPayload(t, "release.published"), false, http.StatusOK}, // not subscribed
	} {
		if got := postGitHub(t, feedURL, secret, d.event, d.id, d.body, d.form); got != d.want {
			t.Errorf("%s %s: %d, want %d", d.event, d.id, got, d.want)
		}
	}
	if got := postGitHub(t, feedURL, "not-the-secret", "push", "d-forged", push, false); got != http.StatusUnauthorized {
		t.Errorf("forged delivery: %d", got)
	}

	recs := g.twoEchoes(t, "a redelivery, a ping or a forged delivery ran")
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Name != "echo" {
			continue
		}
		var p struct {
			Ref   string         `json:"ref"`
			Issue map[string]any `json:"issue"`
			Event map[string]any `json:"__event"`
		}
		if err := json.Unmarshal(r.Response.Result, &p); err != nil {
			t.Fatal(err)
		}
		ev := p.Event
		seen[fmt.Sprint(ev["type"])] = true
		if ev["source"] != "https://github.com/Codertocat/Hello-World" {
			t.Errorf("source %v", ev["source"])
		}
		switch ev["type"] {
		case "com.github.push":
			if ev["id"] != "d-push" || ev["subject"] != "refs/heads/master" || p.Ref != "refs/heads/master" {
				t.Errorf("push event %v, ref %q", ev, p.Ref)
			}
		case "com.github.issues.opened":
			if ev["id"] != "d-issue" || ev["subject"] != "1" || p.Issue["number"] != float64(1) {
				t.Errorf("issues event %v", ev)
			}
		}
	}
	if !seen["com.github.push"] || !seen["com.github.issues.opened"] {
		t.Errorf("event types %v", seen)
	}

	// `trigger update` with feed parameters is the feed's UPDATE: Gust
	// edits the hook on GitHub, and release events fire from then on.
	mustGust(t, cli, "trigger", "update", "pushes", "-p", "events", "push,issues,release")
	hooks.mu.Lock()
	if len(hooks.edited) != 1 || hooks.edited[0]["path"] != "/repos/Codertocat/Hello-World/hooks/4201" ||
		fmt.Sprint(hooks.edited[0]["events"]) != "[push issues release]" || hooks.edited[0]["config"].(map[string]any)["secret"] != secret {
		t.Errorf("GitHub got edits %v", hooks.edited)
	}
	if len(hooks.created) != 1 {
		t.Errorf("the update created %d hooks", len(hooks.created)-1)
	}
	hooks.mu.Unlock()
	if got := postGitHub(t, feedURL, secret, "release", "d-release-2", githubPayload(t, "release.published"), false); got != http.StatusAccepted {
		t.Errorf("release after the update: %d", got)
	}
	g.waitActivations(t, "the release's echo", func(rs []record) bool { return countNamed(rs, "echo") == 3 })

	// A delivery larger than the bus's inline limit: its data travels
	// through the object store and reaches the action whole.
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/size", nodeAction(
		`function main(p) { return { ref: p.ref, pad: p.pad.length, dataref: p.__event.dataref || null }; }`), nil)
	mustGust(t, cli, "trigger", "create", "bigpushes", "--feed", "github/webhook", "-p", "repository", "Codertocat/Hello-World", "-p", "secret", secret)
	mustGust(t, cli, "rule", "create", "rbig", "bigpushes", "size")
	var big map[string]any
	if err := json.Unmarshal(push, &big); err != nil {
		t.Fatal(err)
	}
	big["pad"] = strings.Repeat("x", 3<<20)
	bigBody, _ := json.Marshal(big)
	if got := postGitHub(t, strings.Replace(feedURL, "/pushes", "/bigpushes", 1), secret, "push", "d-big", bigBody, false); got != http.StatusAccepted {
		t.Fatalf("3 MB delivery: %d", got)
	}
	recs = g.waitActivations(t, "the size action", func(rs []record) bool { return countNamed(rs, "size") == 1 })
	for _, r := range recs {
		var got struct {
			Ref     string `json:"ref"`
			Pad     int    `json:"pad"`
			Dataref any    `json:"dataref"`
		}
		if r.Name == "size" && (json.Unmarshal(r.Response.Result, &got) != nil || got.Ref != "refs/heads/master" || got.Pad != 3<<20 || got.Dataref != nil) {
			t.Errorf("the 3 MB delivery reached the action as %s", r.Response.Result)
		}
	}

	// Larger than an invocation's message (8 MB here): the parameters
	// travel by reference too, and the action gets all 20 MB.
	big["pad"] = strings.Repeat("y", 20<<20)
	bigBody, _ = json.Marshal(big)
	if got := postGitHub(t, strings.Replace(feedURL, "/pushes", "/bigpushes", 1), secret, "push", "d-huge", bigBody, false); got != http.StatusAccepted {
		t.Fatalf("20 MB delivery: %d", got)
	}
	g.waitActivations(t, "the 20 MB delivery's action", func(rs []record) bool {
		for _, r := range rs {
			var got struct{ Pad int }
			if r.Name == "size" && json.Unmarshal(r.Response.Result, &got) == nil && got.Pad == 20<<20 {
				return true
			}
		}
		return false
	})

	// GitHub refuses: CREATE fails with its message, and no trigger is left.
	hooks.mu.Lock()
	hooks.refuse = true
	hooks.mu.Unlock()
	r := gust(t, cli, "trigger", "create", "refused", "--feed", "github/webhook", "-p", "repository", "Codertocat/Hello-World",
		"-p", "accessToken", "ghp_bad", "-p", "baseUrl", gh.URL)
	if r.err == nil || !strings.Contains(r.err.Error(), "GitHub refused to create the hook") || !strings.Contains(r.err.Error(), "Not Found") {
		t.Errorf("create with a refused hook: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if got := g.call(t, "GET", "/namespaces/_/triggers/refused", nil, nil); got != http.StatusNotFound {
		t.Errorf("the refused trigger is left: GET %d", got)
	}
	hooks.mu.Lock()
	hooks.refuse = false
	hooks.mu.Unlock()

	// A baseUrl leading to the cloud's metadata service: refused at CREATE
	// with a 400 that says why, and no trigger is left.
	r = gust(t, cli, "trigger", "create", "metadata", "--feed", "github/webhook", "-p", "repository", "Codertocat/Hello-World",
		"-p", "accessToken", "ghp_e2e", "-p", "baseUrl", "http://169.254.169.254/latest/")
	if r.err == nil || !strings.Contains(r.err.Error(), "baseUrl") || !strings.Contains(r.err.Error(), "link-local") {
		t.Errorf("create with a metadata baseUrl: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if got := g.call(t, "GET", "/namespaces/_/triggers/metadata", nil, nil); got != http.StatusNotFound {
		t.Errorf("the refused trigger is left: GET %d", got)
	}

	mustGust(t, cli, "rule", "delete", "r")
	mustGust(t, cli, "trigger", "delete", "pushes")
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	if len(hooks.deleted) != 1 || hooks.deleted[0] != "/repos/Codertocat/Hello-World/hooks/4201" {
		t.Errorf("GitHub got deletions %v", hooks.deleted)
	}
}
