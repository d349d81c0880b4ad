package gustcmd

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// echoCode returns its parameters, so a test sees what a rule passed.
const echoCode = `function main(params) { return params; }`

// cliEnv is the CLI environment of the gust serve on dataDir.
func cliEnv(dataDir string) func(string) string {
	env := map[string]string{"GUST_CONFIG": filepath.Join(dataDir, "cli-config"), "HOME": dataDir}
	return func(k string) string { return env[k] }
}

// startE2E starts most end-to-end tests: it requires a Docker engine (see
// requireEngine) and runs gust serve, with flags extra, on a fresh data
// directory until the test ends; cli is the environment in which the gust
// CLI talks to it.
func startE2E(t testing.TB, extra ...string) (g *gustProcess, cli func(string) string) {
	t.Helper()
	requireEngine(t)
	dir := t.TempDir()
	return startGust(t, dir, extra...), cliEnv(dir)
}

// mustGust runs the CLI and fails the test when it fails.
func mustGust(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	r := gust(t, getenv, args...)
	if r.err != nil {
		t.Fatalf("gust %s: %v\n%s%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// TestE2EAlarmOnceFiresOnce: `trigger create --feed alarms/once` with a
// date a few seconds ahead and a rule runs the action exactly once, and
// `trigger get` shows the feed's status.
func TestE2EAlarmOnceFiresOnce(t *testing.T) {
	g, cli := startE2E(t)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/echo", nodeAction(echoCode), nil)
	when := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339)
	out := mustGust(t, cli, "trigger", "create", "soon", "--feed", "/whisk.system/alarms/once",
		"-p", "date", when, "-p", "trigger_payload", `{"who":"alarm"}`)
	if out != "ok: created trigger soon, fed by /whisk.system/alarms/once\n"+
		"next: gust rule create RULE soon ACTION, then gust events tail soon\n" {
		t.Fatalf("trigger create output:\n%s", out)
	}
	mustGust(t, cli, "rule", "create", "r", "soon", "echo")
	// deleteAfterFire: the action still runs, then the trigger is gone.
	mustGust(t, cli, "trigger", "create", "gone", "--feed", "alarms/once", "-p", "date", when,
		"-p", "deleteAfterFire", "true", "-p", "trigger_payload", `{"who":"gone"}`)
	mustGust(t, cli, "rule", "create", "r2", "gone", "echo")
	recs := g.waitActivations(t, "the alarms' echoes", func(rs []record) bool { return countNamed(rs, "echo") == 2 })
	who := map[any]int{}
	for _, r := range recs {
		var params map[string]any
		if r.Name == "echo" && json.Unmarshal(r.Response.Result, &params) == nil {
			who[params["who"]]++
		}
	}
	if who["alarm"] != 1 || who["gone"] != 1 {
		t.Errorf("the actions got payloads %v, want each trigger_payload once", who)
	}
	time.Sleep(2 * time.Second)
	if n := countNamed(g.waitActivations(t, "no second run", func([]record) bool { return true }), "echo"); n != 2 {
		t.Errorf("the once alarms ran the action %d times, want 2", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for g.call(t, "GET", "/namespaces/_/triggers/gone", nil, nil) != 404 {
		if time.Now().After(deadline) {
			t.Fatal("deleteAfterFire left the trigger")
		}
		time.Sleep(100 * time.Millisecond)
	}
	out = mustGust(t, cli, "trigger", "get", "soon")
	if !strings.Contains(out, "feed /whisk.system/alarms/once:") || !strings.Contains(out, `"active": false`) {
		t.Errorf("trigger get does not show the finished feed:\n%s", out)
	}
	// The feed is told, in a line: not its activation's page of JSON.
	out = mustGust(t, cli, "trigger", "delete", "soon")
	if !regexp.MustCompile(`^ok: stopped feed /whisk.system/alarms/once of trigger soon \(activation [0-9a-f]{32}\)\nok: deleted trigger soon\n$`).MatchString(out) {
		t.Errorf("trigger delete printed:\n%s", out)
	}
	// Bad parameters are refused at create, naming the parameter, and
	// leave no trigger behind.
	r := gust(t, cli, "trigger", "create", "bad", "--feed", "alarms/alarm", "-p", "cron", "not a cron")
	if r.err == nil || !strings.Contains(r.message(), "cron") {
		t.Errorf("bad cron: %v\n%s", r.err, r.stdout)
	}
	if code := g.call(t, "GET", "/namespaces/_/triggers/bad", nil, nil); code != 404 {
		t.Errorf("a trigger whose feed failed is left behind: %d", code)
	}
	r = gust(t, cli, "trigger", "create", "past", "--feed", "alarms/once", "-p", "date", "2020-01-01T00:00:00Z")
	if r.err == nil || !strings.Contains(r.message(), "parameter 'date' must be in the future") {
		t.Errorf("once in the past: %v\n%s", r.err, r.stdout)
	}
}

// TestE2ECloudEventsIngress: CloudEvents sent by the CloudEvents SDK's own
// HTTP client, in binary and structured mode, to a cloudevents feed's URL
// reach the action intact: id, source, type, extensions and data.
func TestE2ECloudEventsIngress(t *testing.T) {
	g, _, url := startIngress(t, "r")

	c, err := cloudevents.NewClientHTTP(cehttp.WithTarget(url), cehttp.WithHeader("Authorization", "Bearer s3cret-token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"binary", "structured"} {
		e := cloudevents.NewEvent()
		e.SetID("evt-" + mode)
		e.SetSource("https://sensors.example.com/line-4")
		e.SetType("com.example.temperature")
		e.SetExtension("plant", "bremen")
		_ = e.SetData(cloudevents.ApplicationJSON, map[string]any{"celsius": 21.5, "mode": mode})
		ctx := context.Background()
		if mode == "structured" {
			ctx = cloudevents.WithEncodingStructured(ctx)
		}
		if res := c.Send(ctx, e); !cloudevents.IsACK(res) {
			t.Fatalf("%s send: %v", mode, res)
		}
	}
	// A wrong token is refused and publishes nothing.
	bad, _ := cloudevents.NewClientHTTP(cehttp.WithTarget(url), cehttp.WithHeader("Authorization", "Bearer wrong"))
	e := cloudevents.NewEvent()
	e.SetID("evt-bad")
	e.SetSource("/x")
	e.SetType("com.example.bad")
	var result *cehttp.Result
	if res := bad.Send(context.Background(), e); !cloudevents.ResultAs(res, &result) || result.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %v", res)
	}

	recs := g.twoEchoes(t, "the refused event must not run")
	for _, r := range recs {
		if r.Name != "echo" {
			continue
		}
		var p struct {
			Celsius float64        `json:"celsius"`
			Mode    string         `json:"mode"`
			Event   map[string]any `json:"__event"`
		}
		if err := json.Unmarshal(r.Response.Result, &p); err != nil {
			t.Fatal(err)
		}
		if p.Celsius != 21.5 || p.Event["id"] != "evt-"+p.Mode || p.Event["source"] != "https://sensors.example.com/line-4" ||
			p.Event["type"] != "com.example.temperature" || p.Event["plant"] != "bremen" {
			t.Errorf("the action got %s", r.Response.Result)
		}
	}
}

// TestE2ETriggerCreateFeedSummary: `trigger create --feed` prints a short
// summary (the feed's URL, the token it generated, shown once, and the
// next command, which works as printed); with --json, the feed action's
// activation; a failing feed, one error line.
func TestE2ETriggerCreateFeedSummary(t *testing.T) {
	g, cli := startE2E(t)
	out := mustGust(t, cli, "trigger", "create", "inbox", "--feed", "cloudevents/ingress")
	url := strings.TrimSuffix(g.base, "/api/v1") + "/api/v1/feeds/guest/inbox"
	m := regexp.MustCompile(`^ok: created trigger inbox, fed by /whisk.system/cloudevents/ingress\n` +
		`  url: ` + regexp.QuoteMeta(url) + `\n` +
		`  token: (\S+) \(generated: shown this once, keep it\)\n` +
		`next: gust rule create RULE inbox ACTION, then gust events tail inbox; send an event: gust event send --url ` + regexp.QuoteMeta(url) +
		` --token (\S+) --type com.example.hello --data '\{"hello":"world"\}'\n$`).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Fatalf("trigger create said:\n%s", out)
	}
	mustGust(t, cli, "event", "send", "--url", url, "--token", m[1], "--type", "com.example.hello", "--data", `{"hello":"world"}`)

	out = mustGust(t, cli, "trigger", "create", "tick", "--feed", "alarms/interval", "-p", "minutes", "5", "--json")
	var rec struct {
		Name     string
		Response struct {
			Result struct{ Config map[string]any }
		}
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.Name != "interval" ||
		rec.Response.Result.Config["minutes"] != 5.0 || rec.Response.Result.Config["triggerName"] != "/guest/tick" {
		t.Errorf("--json: %+v %v\n%s", rec, err, out)
	}
	r := gust(t, cli, "trigger", "create", "bad", "--feed", "alarms/interval", "-p", "minutes", "0")
	if r.err == nil || r.stdout != "" || !strings.HasPrefix(r.message(), "Unable to create trigger 'bad': ") {
		t.Errorf("a failing feed: %v\n%s", r.err, r.stdout)
	}
}

// startIngress starts Gust with an action echo (returning its parameters)
// and a trigger inbox fed by the cloudevents/ingress feed (token
// s3cret-token) whose rule is named rule; it returns the feed's URL too.
func startIngress(t *testing.T, rule string) (g *gustProcess, cli func(string) string, url string) {
	t.Helper()
	g, cli = startE2E(t)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/echo", nodeAction(echoCode), nil)
	mustGust(t, cli, "trigger", "create", "inbox", "--feed", "cloudevents/ingress", "-p", "token", "s3cret-token")
	mustGust(t, cli, "rule", "create", rule, "inbox", "echo")
	return g, cli, strings.TrimSuffix(g.base, "/api/v1") + "/api/v1/feeds/guest/inbox"
}
