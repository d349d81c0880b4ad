package gustcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/internal/dockertest"
	"github.com/gusthub/gust/internal/exampletest"
	"github.com/gusthub/gust/internal/syncbuf"
)

// These tests run the whole of Gust as `gust serve` does, through run(),
// with a real Docker engine, embedded NATS and real HTTP.

// requireEngine skips with -short, and when no Docker engine answers,
// unless GUST_REQUIRE_DOCKER=1 (CI), where it fails (dockertest.Require).
func requireEngine(t testing.TB) {
	t.Helper()
	skipShort(t)
	dockertest.Require(t, nil)
}

// skipShort skips an end-to-end test, which runs a whole Gust, with -short.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test; -short")
	}
}

// builtGust builds the gust binary once per test run (TestMain removes
// it): the action proxy in runtime images is a copy of it, and the test
// binary cannot be one.
func builtGust(t testing.TB) string {
	t.Helper()
	return exampletest.Binary(t)
}

// gustProcess is one `gust serve` run in this process.
type gustProcess struct {
	base   string // http://127.0.0.1:port/api/v1
	cancel context.CancelFunc
	done   chan error
	logs   *syncbuf.Buffer
}

// startGust runs `gust serve` on dataDir until the test ends (or stop).
// Flags in extra are added last, so they override the rig's own.
func startGust(t testing.TB, dataDir string, extra ...string) *gustProcess {
	t.Helper()
	return startGustEnv(t, dataDir, map[string]string{"GUST_CONFIG": filepath.Join(dataDir, dataDirConfig)}, extra...)
}

// startGustEnv is startGust with the environment env (HOME is dataDir
// unless env sets it). It waits for the CLI config serve keeps in the data
// dir.
func startGustEnv(t testing.TB, dataDir string, env map[string]string, extra ...string) *gustProcess {
	t.Helper()
	owners.Add(containerOwner(dataDir))
	cfg := filepath.Join(dataDir, dataDirConfig)
	_ = os.Remove(cfg)
	if _, ok := env["HOME"]; !ok {
		env["HOME"] = dataDir
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	logw := &syncbuf.Buffer{}
	p := &gustProcess{cancel: cancel, done: make(chan error, 1), logs: logw}
	args := append([]string{"gust", "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0",
		"--dev-guest-key", "--sandbox", "docker", "--stem-cells", "0", "--pause-grace", "0",
		"--invoker-memory", "1024", "--build-images=false", "--proxy-binary", builtGust(t)}, extra...)
	go func() {
		p.done <- run(ctx, args, getenv, logw, logw)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		props, _ := readProps(cfg)
		if host := props[propAPIHost]; host != "" && strings.Contains(logw.String(), "gust ready") {
			p.base = host + "/api/v1"
			break
		}
		select {
		case err := <-p.done:
			t.Fatalf("gust serve ended: %v\n%s", err, logw.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if p.base == "" {
		t.Fatalf("gust serve not ready\n%s", logw.String())
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *gustProcess) stop(t testing.TB) {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("gust serve: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("gust serve did not stop within 60s")
	}
}

// call sends one authenticated request and decodes a JSON answer into out.
func (p *gustProcess) call(t testing.TB, method, path string, body any, out any, header ...string) int {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, p.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(api.DevGuestKey, ":")
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 90 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// mustCall is call that fails the test on an unexpected status.
func (p *gustProcess) mustCall(t testing.TB, want int, method, path string, body any, out any, header ...string) {
	t.Helper()
	var raw json.RawMessage
	if got := p.call(t, method, path, body, &raw, header...); got != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

type record struct {
	ActivationID string `json:"activationId"`
	Name         string `json:"name"`
	Cause        string `json:"cause"`
	Response     struct {
		Status string          `json:"status"` // OpenWhisk's: success, application error, ...
		Result json.RawMessage `json:"result"`
	} `json:"response"`
	Logs        []string          `json:"logs"`
	Annotations []json.RawMessage `json:"annotations"`
}

func (r record) has(annotation string) bool {
	for _, a := range r.Annotations {
		var kv struct{ Key string }
		if json.Unmarshal(a, &kv) == nil && kv.Key == annotation {
			return true
		}
	}
	return false
}

// waitActivations polls the activation list until match holds, or fails.
func (p *gustProcess) waitActivations(t *testing.T, what string, match func([]record) bool) []record {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var recs []record
	for time.Now().Before(deadline) {
		recs = nil
		p.mustCall(t, http.StatusOK, "GET", "/namespaces/_/activations?docs=true&limit=200", nil, &recs)
		if match(recs) {
			return recs
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; activations: %+v", what, recs)
	return nil
}

// sameJSON reports whether got and want hold the same JSON value.
func sameJSON(got json.RawMessage, want string) bool {
	var a, b any
	return json.Unmarshal(got, &a) == nil && json.Unmarshal([]byte(want), &b) == nil && fmt.Sprint(a) == fmt.Sprint(b)
}

// twoEchoes waits for two activations of echo, then a second more, and
// fails t unless there are still two (an extra one means what more says);
// it returns the activations.
func (p *gustProcess) twoEchoes(t *testing.T, more string) []record {
	t.Helper()
	p.waitActivations(t, "two echoes", func(rs []record) bool { return countNamed(rs, "echo") == 2 })
	time.Sleep(time.Second)
	recs := p.waitActivations(t, "still two echoes", func(rs []record) bool { return true })
	if n := countNamed(recs, "echo"); n != 2 {
		t.Fatalf("%d echoes, want 2: %s", n, more)
	}
	return recs
}

func countNamed(recs []record, name string) (n int) {
	for _, r := range recs {
		if r.Name == name {
			n++
		}
	}
	return n
}

func nodeAction(code string) map[string]any {
	return map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": code}}
}

const helloCode = `function main(params) { return { message: 'Hello, ' + params.name + ' from ' + params.place }; }`

func TestE2EHelloColdThenWarm(t *testing.T) {
	requireEngine(t)
	g := startGust(t, t.TempDir())
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/hello?overwrite=false", nodeAction(helloCode), nil)

	var result map[string]string
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/hello?blocking=true&result=true", map[string]string{"name": "Ada", "place": "London"}, &result)
	if result["message"] != "Hello, Ada from London" {
		t.Fatalf("result %v", result)
	}
	var cold, warm record
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/hello?blocking=true", map[string]string{"name": "Bo", "place": "Oslo"}, &warm)
	recs := g.waitActivations(t, "two hello activations", func(rs []record) bool { return countNamed(rs, "hello") == 2 })
	cold = recs[1]
	if !cold.has("initTime") || warm.has("initTime") {
		t.Fatalf("want the first activation cold and the second warm: first initTime=%v, second initTime=%v", cold.has("initTime"), warm.has("initTime"))
	}
	if string(warm.Response.Result) != `{"message":"Hello, Bo from Oslo"}` {
		t.Fatalf("warm result %s", warm.Response.Result)
	}
}

func TestE2ETriggerRulesAndSequences(t *testing.T) {
	requireEngine(t)
	g := startGust(t, t.TempDir())
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/echo?overwrite=false",
		nodeAction(`function main(p) { return { source: p.source, temperature: p.temperature, event: p.__event || null }; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/temps?overwrite=false", map[string]any{
		"parameters": []map[string]any{{"key": "source", "value": "demo"}, {"key": "temperature", "value": 0}}}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/quiet?overwrite=false", map[string]any{}, nil)

	t.Run("no active rule answers 204 and records nothing", func(t *testing.T) {
		if got := g.call(t, "POST", "/namespaces/_/triggers/quiet", map[string]int{"x": 1}, nil); got != http.StatusNoContent {
			t.Fatalf("status %d, want 204", got)
		}
	})

	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/r1?overwrite=false", map[string]string{"trigger": "/_/temps", "action": "/_/echo"}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/r2?overwrite=false", map[string]string{"trigger": "/_/temps", "action": "/_/echo"}, nil)
	g.mustCall(t, 200, "POST", "/namespaces/_/rules/r2", map[string]string{"status": "inactive"}, nil)

	t.Run("fire runs the active rule with merged parameters", func(t *testing.T) {
		var fired struct{ ActivationID string }
		g.mustCall(t, 202, "POST", "/namespaces/_/triggers/temps", map[string]int{"temperature": 21}, &fired)
		recs := g.waitActivations(t, "the rule's activation", func(rs []record) bool {
			for _, r := range rs {
				if r.Name == "echo" && r.Cause == fired.ActivationID {
					return true
				}
			}
			return false
		})
		var trigger record
		for _, r := range recs {
			if r.ActivationID == fired.ActivationID {
				trigger = r
			}
			if r.Name == "echo" && r.Cause == fired.ActivationID && !sameJSON(r.Response.Result, `{"event":null,"source":"demo","temperature":21}`) {
				t.Errorf("echo result %s", r.Response.Result)
			}
		}
		if len(trigger.Logs) != 2 {
			t.Fatalf("trigger record logs %v, want one line per rule", trigger.Logs)
		}
		if !strings.Contains(trigger.Logs[0], `"rule":"guest/r1"`) || !strings.Contains(trigger.Logs[0], `"success":true`) {
			t.Errorf("log line for r1: %s", trigger.Logs[0])
		}
		if !strings.Contains(trigger.Logs[1], "Rule 'guest/r2' is inactive, action 'guest/echo' was not activated.") {
			t.Errorf("log line for inactive r2: %s", trigger.Logs[1])
		}
	})

	t.Run("a CloudEvent keeps its attributes and a duplicate id runs once", func(t *testing.T) {
		hdr := []string{"ce-specversion", "1.0", "ce-id", "sensor-7-0042", "ce-source", "/sensors/7", "ce-type", "com.example.temperature", "ce-region", "north"}
		for i := 0; i < 2; i++ {
			g.mustCall(t, 202, "POST", "/namespaces/_/triggers/temps", `{"temperature":30}`, nil, hdr...)
		}
		g.waitActivations(t, "the CloudEvent's activation", func(rs []record) bool {
			for _, r := range rs {
				if r.Name == "echo" && strings.Contains(string(r.Response.Result), "sensor-7-0042") {
					return true
				}
			}
			return false
		})
		time.Sleep(time.Second) // a duplicate, if any, would have run by now
		recs := g.waitActivations(t, "settled activations", func([]record) bool { return true })
		n := 0
		for _, r := range recs {
			if r.Name == "echo" && strings.Contains(string(r.Response.Result), "sensor-7-0042") {
				n++
				var res struct {
					Event map[string]string `json:"event"`
				}
				_ = json.Unmarshal(r.Response.Result, &res)
				if res.Event["source"] != "/sensors/7" || res.Event["type"] != "com.example.temperature" || res.Event["region"] != "north" {
					t.Errorf("event attributes %v", res.Event)
				}
			}
		}
		if n != 1 {
			t.Fatalf("the event ran the action %d times, want once", n)
		}
	})

	t.Run("sequence chains results and stops at an error", func(t *testing.T) {
		g.mustCall(t, 200, "PUT", "/namespaces/_/actions/split?overwrite=false", nodeAction(`function main(p) { return { words: p.text.split(' ') }; }`), nil)
		g.mustCall(t, 200, "PUT", "/namespaces/_/actions/count?overwrite=false", nodeAction(`function main(p) { return { n: p.words.length }; }`), nil)
		g.mustCall(t, 200, "PUT", "/namespaces/_/actions/fail?overwrite=false", nodeAction(`function main(p) { return { error: 'no words today' }; }`), nil)
		g.mustCall(t, 200, "PUT", "/namespaces/_/actions/wc?overwrite=false", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/_/split", "/_/count"}}}, nil)
		g.mustCall(t, 200, "PUT", "/namespaces/_/actions/broken?overwrite=false", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/_/split", "/_/fail", "/_/count"}}}, nil)

		var res map[string]int
		g.mustCall(t, 200, "POST", "/namespaces/_/actions/wc?blocking=true&result=true", map[string]string{"text": "to be or not"}, &res)
		if res["n"] != 4 {
			t.Fatalf("sequence result %v, want n=4", res)
		}
		var rec record
		g.mustCall(t, 502, "POST", "/namespaces/_/actions/broken?blocking=true", map[string]string{"text": "a b"}, &rec)
		if !sameJSON(rec.Response.Result, `{"error":"no words today"}`) || len(rec.Logs) != 2 || !rec.has("topmost") {
			t.Fatalf("failed sequence record: result %s, logs %v, topmost %v", rec.Response.Result, rec.Logs, rec.has("topmost"))
		}
		if got := g.call(t, "PUT", "/namespaces/_/actions/loop?overwrite=false", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/_/broken", "/_/loop"}}}, nil); got != 400 {
			t.Fatalf("a sequence naming itself: status %d, want 400", got)
		}
		g.mustCall(t, 200, "PUT", "/namespaces/_/actions/gone?overwrite=false", nodeAction(`function main(p) { return p; }`), nil)
		g.mustCall(t, 200, "PUT", "/namespaces/_/actions/orphan?overwrite=false", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/_/split", "/_/gone"}}}, nil)
		g.mustCall(t, 200, "DELETE", "/namespaces/_/actions/gone", nil, nil)
		g.mustCall(t, 502, "POST", "/namespaces/_/actions/orphan?blocking=true", map[string]string{"text": "a b"}, &rec)
		if !sameJSON(rec.Response.Result, `{"error":"Sequence component /guest/gone does not exist."}`) {
			t.Errorf("a sequence whose component is gone: %s", rec.Response.Result)
		}
	})
}

func TestE2ERestartKeepsStateAndLeavesNoContainers(t *testing.T) {
	requireEngine(t)
	dir := t.TempDir()
	g := startGust(t, dir)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/hello?overwrite=false", nodeAction(helloCode), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/t?overwrite=false", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/r?overwrite=false", map[string]string{"trigger": "/_/t", "action": "/_/hello"}, nil)
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/hello?blocking=true&result=true", map[string]string{"name": "A", "place": "B"}, nil)
	g.stop(t)
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=gust.owner="+containerOwner(dir)).Output(); len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("containers left after shutdown: %s", out)
	}

	g = startGust(t, dir)
	var rule struct{ Status string }
	g.mustCall(t, 200, "GET", "/namespaces/_/rules/r", nil, &rule)
	if rule.Status != "active" {
		t.Fatalf("rule status after restart %q", rule.Status)
	}
	var res map[string]string
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/hello?blocking=true&result=true", map[string]string{"name": "C", "place": "D"}, &res)
	if res["message"] != "Hello, C from D" {
		t.Fatalf("after restart: %v", res)
	}
	var recs []record
	g.mustCall(t, 200, "GET", "/namespaces/_/activations?docs=true", nil, &recs)
	if countNamed(recs, "hello") != 2 {
		t.Fatalf("activations after restart: %d hello, want 2", countNamed(recs, "hello"))
	}
}

// TestE2EFiresSurviveRestartExactlyOnce fires 500 CloudEvents, stops Gust
// while their activations are still queued, restarts it, fires 500 more and
// sends 100 of the first ones again (as a sender that never saw the answer
// would): every event runs its rule's action exactly once.
func TestE2EFiresSurviveRestartExactlyOnce(t *testing.T) {
	requireEngine(t)
	dir := t.TempDir()
	g := startGust(t, dir)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/count?overwrite=false", nodeAction(`function main(p) { return { i: p.i }; }`), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/ticks?overwrite=false", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/r?overwrite=false", map[string]string{"trigger": "/_/ticks", "action": "/_/count"}, nil)
	fire := func(g *gustProcess, i int) {
		g.mustCall(t, 202, "POST", "/namespaces/_/triggers/ticks", fmt.Sprintf(`{"i":%d}`, i), nil,
			"ce-specversion", "1.0", "ce-id", fmt.Sprintf("tick-%d", i), "ce-source", "/test/ticks", "ce-type", "dev.gust.test.tick")
	}
	for i := 0; i < 500; i++ {
		fire(g, i)
	}
	g.stop(t) // the backlog is still in the event stream and the work queue

	g = startGust(t, dir)
	for i := 500; i < 1000; i++ {
		fire(g, i)
	}
	for i := 400; i < 500; i++ {
		fire(g, i) // resent: the dedup window drops them
	}
	// Wait until every activation is recorded and no more arrive, then read
	// them: paging with skip while records are still being written would
	// shift the pages and count some twice.
	count := func() int {
		var n struct{ Activations int }
		g.mustCall(t, 200, "GET", "/namespaces/_/activations?name=count&count=true", nil, &n)
		return n.Activations
	}
	deadline := time.Now().Add(3 * time.Minute)
	for last := -1; ; {
		n := count()
		if n >= 1000 && n == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d activations after 3 minutes, want 1000", n)
		}
		last = n
		time.Sleep(time.Second)
	}
	seen := map[int]int{}
	ids := map[string]bool{}
	for skip := 0; ; skip += 200 {
		var page []record
		g.mustCall(t, 200, "GET", fmt.Sprintf("/namespaces/_/activations?name=count&docs=true&limit=200&skip=%d", skip), nil, &page)
		for _, r := range page {
			var res struct{ I int }
			if err := json.Unmarshal(r.Response.Result, &res); err != nil || r.Response.Status != "success" {
				t.Fatalf("activation %s failed: %s", r.ActivationID, r.Response.Result)
			}
			if ids[r.ActivationID] {
				t.Fatalf("activation %s listed twice", r.ActivationID)
			}
			ids[r.ActivationID] = true
			seen[res.I]++
		}
		if len(page) < 200 {
			break
		}
	}
	for i := 0; i < 1000; i++ {
		if seen[i] != 1 {
			t.Errorf("event %d ran %d times, want once", i, seen[i])
		}
	}
	if len(seen) != 1000 {
		t.Errorf("%d distinct events ran, want 1000", len(seen))
	}
}
