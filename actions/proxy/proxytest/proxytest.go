package proxytest

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions/proxy"
)

// Line is one line the container wrote.
type Line struct {
	Stream string // "stdout" or "stderr"
	Text   string // without the newline
}

// Target is a running, uninitialized action proxy.
type Target struct {
	// Client and BaseURL reach its /init and /run.
	Client  *http.Client
	BaseURL string
	// Logs delivers the container's stdout and stderr lines, in order
	// within each stream. The suite reads it only while it checks an
	// activation's logs, so it must be buffered or drained elsewhere
	// without losing lines.
	Logs <-chan Line
}

// StartFunc starts a fresh action proxy for a runtime kind ("nodejs:20",
// "python:3", "native") with env added to its environment, and registers
// its cleanup with t.Cleanup. It calls t.Skip when it cannot serve kind.
type StartFunc func(t *testing.T, kind string, env map[string]string) Target

// timeout bounds every request and every wait for log lines, so that a
// broken proxy fails the test instead of hanging it.
const timeout = 20 * time.Second

// step is one request to the proxy and what must come of it.
type step struct {
	init   *initValue     // an /init with this value, else a /run
	params map[string]any // the /run's value
	status int
	// want is the exact answer, as JSON; wantError a substring of the
	// answer's "error" field. One of them is set.
	want, wantError string
	// stdout and stderr must appear, in order, among the lines the
	// activation wrote before its sentinels. Checked after every /run and
	// every failed /init.
	stdout, stderr []string
}

type initValue struct {
	Name   string            `json:"name"`
	Main   string            `json:"main,omitempty"`
	Binary bool              `json:"binary"`
	Code   string            `json:"code"`
	Env    map[string]string `json:"env,omitempty"`
}

type testCase struct {
	name  string
	kind  string
	env   map[string]string
	steps []step
}

func initWith(code string) *initValue { return &initValue{Name: "test", Code: code} }

const nodeHello = `function main(args) {
  console.log("hello " + args.name);
  console.error("warn " + args.name);
  return {greeting: "Hello " + args.name};
}`

var cases = []testCase{
	{name: "nodejs sync main, two activations", kind: "nodejs:20", steps: []step{
		{init: initWith(nodeHello), status: 200, want: `{"ok":true}`},
		{params: map[string]any{"name": "Ada"}, status: 200, want: `{"greeting":"Hello Ada"}`, stdout: []string{"hello Ada"}, stderr: []string{"warn Ada"}},
		{params: map[string]any{"name": "Bob"}, status: 200, want: `{"greeting":"Hello Bob"}`, stdout: []string{"hello Bob"}, stderr: []string{"warn Bob"}},
	}},
	{name: "nodejs async main", kind: "nodejs:20", steps: []step{
		{init: initWith(`async function main(a) {
  await new Promise(r => setTimeout(r, 5));
  console.log("after await");
  return {n: a.n + 1};
}`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{"n": 41}, status: 200, want: `{"n":42}`, stdout: []string{"after await"}},
	}},
	{name: "nodejs main returning a promise", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main() { return new Promise(resolve => setTimeout(() => resolve({late: true}), 5)); }`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 200, want: `{"late":true}`},
	}},
	{name: "nodejs exports.main", kind: "nodejs:20", steps: []step{
		{init: initWith(`exports.main = (a) => ({via: "exports", x: a.x});`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{"x": 1}, status: 200, want: `{"via":"exports","x":1}`},
	}},
	{name: "nodejs module.exports.main", kind: "nodejs:20", steps: []step{
		{init: initWith(`const path = require("path");
module.exports.main = () => ({via: "module.exports", base: path.basename("/a/b.txt")});`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 200, want: `{"via":"module.exports","base":"b.txt"}`},
	}},
	{name: "nodejs custom main name", kind: "nodejs:20", steps: []step{
		{init: &initValue{Name: "test", Main: "handler", Code: `function main() { return {wrong: true}; }
function handler(a) { return {right: true}; }`}, status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 200, want: `{"right":true}`},
	}},
	{name: "nodejs zip with package.json main", kind: "nodejs:20", steps: []step{
		{init: &initValue{Name: "test", Binary: true, Code: zipBase64(map[string]string{
			"package.json":  `{"name": "zipped", "main": "lib/app.js"}`,
			"lib/app.js":    `const h = require("./helper"); exports.main = (a) => ({from: h.where(), name: a.name});`,
			"lib/helper.js": `exports.where = () => "lib/helper.js";`,
			"index.js":      `exports.main = () => ({from: "index.js, which package.json does not name"});`,
		})}, status: 200, want: `{"ok":true}`},
		{params: map[string]any{"name": "zip"}, status: 200, want: `{"from":"lib/helper.js","name":"zip"}`},
	}},
	{name: "nodejs activation and init env", kind: "nodejs:20", steps: []step{
		{init: &initValue{Name: "test", Code: `function main() {
  const e = process.env;
  return {ns: e.__OW_NAMESPACE, name: e.__OW_ACTION_NAME, version: e.__OW_ACTION_VERSION,
    id: e.__OW_ACTIVATION_ID, tx: e.__OW_TRANSACTION_ID, deadline: e.__OW_DEADLINE,
    key: e.__OW_API_KEY, value: e.__OW_VALUE === undefined ? "unset" : "set", init: e.GREETING};
}`, Env: map[string]string{"GREETING": "hi"}}, status: 200, want: `{"ok":true}`},
		{params: map[string]any{"x": 1}, status: 200, want: `{"ns":"guest","name":"/guest/test","version":"0.0.1","id":"0123456789abcdef0123456789abcdef","tx":"tx-1","deadline":"1700000000000","key":"uuid:key","value":"unset","init":"hi"}`},
	}},
	{name: "nodejs array result", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main() { return [1, "two", {three: 3}]; }`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 200, want: `[1,"two",{"three":3}]`},
	}},
	{name: "nodejs undefined result is empty", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main() { console.log("nothing to say"); }`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 200, want: `{}`, stdout: []string{"nothing to say"}},
	}},
	{name: "nodejs string result is not a dictionary", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main() { return "just a string"; }`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 502, want: `{"error":"The action did not return a dictionary or array."}`},
	}},
	{name: "nodejs error result", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main() { return {error: "bad input"}; }`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 200, want: `{"error":"bad input"}`},
	}},
	{name: "nodejs thrown error, then recovery", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main(a) { if (a.fail) throw new Error("boom"); return {fine: true}; }`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{"fail": true}, status: 502, want: `{"error":"An error has occurred: Error: boom"}`, stderr: []string{"Error: boom"}},
		{params: map[string]any{}, status: 200, want: `{"fine":true}`},
	}},
	{name: "nodejs thrown string", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main() { throw "plain"; }`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 502, want: `{"error":"An error has occurred: plain"}`, stderr: []string{"plain"}},
	}},
	{name: "nodejs rejected promise", kind: "nodejs:20", steps: []step{
		{init: initWith(`async function main() { throw new TypeError("nope"); }`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 200, wantError: "nope"},
	}},
	{name: "nodejs process.exit", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main() { console.log("bye"); process.exit(3); }`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 400, want: `{"error":"command exited"}`, stdout: []string{"bye"}},
		{params: map[string]any{}, status: 400, want: `{"error":"command exited"}`},
	}},
	{name: "nodejs init only once", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main() { return {first: true}; }`), status: 200, want: `{"ok":true}`},
		{init: initWith(`function main() { return {second: true}; }`), status: 403, want: `{"error":"Cannot initialize the action more than once."}`},
		{params: map[string]any{}, status: 200, want: `{"first":true}`},
	}},
	{name: "empty code", kind: "nodejs:20", steps: []step{
		{init: initWith(""), status: 403, want: `{"error":"Missing main/no code to execute."}`},
	}},
	{name: "nodejs syntax error fails init", kind: "nodejs:20", steps: []step{
		{init: initWith(`function main() { return {; }`), status: 502, wantError: "Initialization has failed", stderr: []string{"SyntaxError"}},
	}},
	{name: "nodejs missing main fails init", kind: "nodejs:20", steps: []step{
		{init: initWith(`function other() {}`), status: 502, wantError: "'main' is not a function"},
	}},
	{name: "python main", kind: "python:3", steps: []step{
		{init: initWith(`import os, sys

def main(args):
    print("py log", args.get("name"))
    print("py err", file=sys.stderr)
    return {"hello": args.get("name"), "id": os.environ.get("__OW_ACTIVATION_ID")}
`), status: 200, want: `{"ok":true}`},
		{params: map[string]any{"name": "Guido"}, status: 200, want: `{"hello":"Guido","id":"0123456789abcdef0123456789abcdef"}`, stdout: []string{"py log Guido"}, stderr: []string{"py err"}},
	}},
	{name: "python zip and custom main", kind: "python:3", steps: []step{
		{init: &initValue{Name: "test", Main: "entry", Binary: true, Code: zipBase64(map[string]string{
			"__main__.py": "import helper\n\ndef entry(args):\n    return [helper.twice(args['n'])]\n",
			"helper.py":   "def twice(n):\n    return 2 * n\n",
		})}, status: 200, want: `{"ok":true}`},
		{params: map[string]any{"n": 21}, status: 200, want: `[42]`},
	}},
	{name: "python exception", kind: "python:3", steps: []step{
		{init: initWith("def main(args):\n    raise ValueError('bad value')\n"), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 200, want: `{"error":"bad value"}`, stderr: []string{"ValueError: bad value"}},
	}},
	{name: "native executable", kind: "native", steps: []step{
		{init: initWith("#!/bin/sh\necho \"native log\"\necho \"native err\" >&2\necho \"{\\\"args\\\": $1, \\\"id\\\": \\\"$__OW_ACTIVATION_ID\\\"}\"\n"), status: 200, want: `{"ok":true}`},
		{params: map[string]any{"a": 1}, status: 200, want: `{"args":{"a":1},"id":"0123456789abcdef0123456789abcdef"}`, stdout: []string{"native log"}, stderr: []string{"native err"}},
	}},
	{name: "native zip with exec", kind: "native", steps: []step{
		{init: &initValue{Name: "test", Binary: true, Code: zipBase64(map[string]string{
			"exec": "#!/bin/sh\necho 'not the result'\necho '{\"zipped\": true}'\n",
		})}, status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 200, want: `{"zipped":true}`, stdout: []string{"not the result"}},
	}},
	{name: "native result that is not JSON", kind: "native", steps: []step{
		{init: initWith("#!/bin/sh\necho 'plain text'\n"), status: 200, want: `{"ok":true}`},
		{params: map[string]any{}, status: 502, want: `{"error":"The action did not return a dictionary or array."}`},
	}},
}

// Run runs the conformance suite against proxies that start starts.
func Run(t *testing.T, start StartFunc) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := start(t, tc.kind, tc.env)
			for i, st := range tc.steps {
				runStep(t, target, i, st)
			}
		})
	}
	t.Run("nodejs concurrent activations", func(t *testing.T) { concurrent(t, start) })
}

func runStep(t *testing.T, target Target, i int, st step) {
	t.Helper()
	path, body := "/run", any(runBody(st.params))
	if st.init != nil {
		path, body = "/init", map[string]any{"value": st.init}
	}
	status, answer := post(t, target, path, body)
	if status != st.status {
		t.Fatalf("step %d: POST %s: status %d, want %d; answer %s", i, path, status, st.status, answer)
	}
	switch {
	case st.want != "":
		if !jsonEqual(answer, []byte(st.want)) {
			t.Fatalf("step %d: POST %s answered %s, want %s", i, path, answer, st.want)
		}
	case st.wantError != "":
		var got struct{ Error any }
		if err := json.Unmarshal(answer, &got); err != nil || !strings.Contains(fmt.Sprint(got.Error), st.wantError) {
			t.Fatalf("step %d: POST %s answered %s, want an error with %q", i, path, answer, st.wantError)
		}
	}
	if st.init != nil && status == http.StatusOK {
		return // a successful init ends no activation
	}
	stdout, stderr := activationLogs(t, target.Logs)
	if !isSubsequence(st.stdout, stdout) {
		t.Errorf("step %d: stdout before the sentinel is %q, want %q among it", i, stdout, st.stdout)
	}
	if !isSubsequence(st.stderr, stderr) {
		t.Errorf("step %d: stderr before the sentinel is %q, want %q among it", i, stderr, st.stderr)
	}
}

// concurrent checks that the nodejs launcher runs activations at the same
// time when allowed: the first waits until the second releases it, which
// one-at-a-time execution would never do.
func concurrent(t *testing.T, start StartFunc) {
	target := start(t, "nodejs:20", map[string]string{"__OW_ALLOW_CONCURRENT": "true"})
	code := `let release;
const released = new Promise(r => { release = r; });
function main(a) {
  if (a.op === "throw") throw new TypeError("no such op");
  if (a.op === "string") return "just a string";
  return both(a);
}
async function both(a) {
  if (a.op === "wait") { const by = await released; return {op: "wait", releasedBy: by}; }
  release(a.who);
  return {op: "release", who: a.who};
}`
	if status, answer := post(t, target, "/init", map[string]any{"value": initWith(code)}); status != 200 {
		t.Fatalf("init: status %d: %s", status, answer)
	}
	answers := make([][]byte, 2)
	var wg sync.WaitGroup
	for i, params := range []map[string]any{{"op": "wait"}, {"op": "release", "who": "second"}} {
		wg.Go(func() {
			status, answer := post(t, target, "/run", runBody(params))
			if status != 200 {
				t.Errorf("run %d: status %d: %s", i, status, answer)
			}
			answers[i] = answer
		})
		if i == 0 {
			// Let the waiting activation arrive first; the test holds
			// however long this takes.
			time.Sleep(50 * time.Millisecond)
		}
	}
	wg.Wait()
	if !jsonEqual(answers[0], []byte(`{"op":"wait","releasedBy":"second"}`)) || !jsonEqual(answers[1], []byte(`{"op":"release","who":"second"}`)) {
		t.Fatalf("concurrent answers %s and %s", answers[0], answers[1])
	}
	// Concurrent activations interleave their logs: just expect both
	// sentinels on each stream.
	sentinels := map[string]int{}
	deadline := time.After(timeout)
	for sentinels["stdout"] < 2 || sentinels["stderr"] < 2 {
		select {
		case l := <-target.Logs:
			if l.Text == proxy.Sentinel {
				sentinels[l.Stream]++
			}
		case <-deadline:
			t.Fatalf("sentinels seen within %s: %v, want 2 per stream", timeout, sentinels)
		}
	}
	// Synchronous failures answer as they do one at a time.
	for _, tc := range []struct{ op, want string }{
		{"throw", `{"error":"An error has occurred: TypeError: no such op"}`},
		{"string", `{"error":"The action did not return a dictionary or array."}`},
	} {
		if status, answer := post(t, target, "/run", runBody(map[string]any{"op": tc.op})); status != 502 || !jsonEqual(answer, []byte(tc.want)) {
			t.Errorf("op %s: status %d: %s, want 502 %s", tc.op, status, answer, tc.want)
		}
	}
}

func runBody(params map[string]any) map[string]any {
	if params == nil {
		params = map[string]any{}
	}
	return map[string]any{
		"value":          params,
		"namespace":      "guest",
		"action_name":    "/guest/test",
		"action_version": "0.0.1",
		"activation_id":  "0123456789abcdef0123456789abcdef",
		"transaction_id": "tx-1",
		"deadline":       "1700000000000",
		"api_key":        "uuid:key",
	}
}

func post(t *testing.T, target Target, path string, body any) (int, []byte) {
	t.Helper()
	b, err := json.MarshalIndent(body, "", "  ") // newlines the proxy must strip
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.BaseURL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := target.Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read answer: %v", path, err)
	}
	return resp.StatusCode, answer
}

// activationLogs reads the lines of one activation up to its sentinel on
// each stream. A stream's lines after its sentinel, before the other
// stream's, fail the test: they came after the action answered.
func activationLogs(t *testing.T, logs <-chan Line) (stdout, stderr []string) {
	t.Helper()
	deadline := time.After(timeout)
	done := map[string]bool{}
	for !done["stdout"] || !done["stderr"] {
		select {
		case l, ok := <-logs:
			if !ok {
				t.Fatalf("logs ended before both sentinels; stdout %q, stderr %q", stdout, stderr)
			}
			switch {
			case l.Text == proxy.Sentinel:
				if done[l.Stream] {
					t.Fatalf("a second sentinel on %s before one on the other stream", l.Stream)
				}
				done[l.Stream] = true
			case done[l.Stream]:
				t.Fatalf("line %q on %s after its sentinel", l.Text, l.Stream)
			case l.Stream == "stdout":
				stdout = append(stdout, l.Text)
			default:
				stderr = append(stderr, l.Text)
			}
		case <-deadline:
			t.Fatalf("no sentinels on both streams within %s; stdout %q, stderr %q", timeout, stdout, stderr)
		}
	}
	return stdout, stderr
}

// isSubsequence says whether every want appears in got, in order, each as
// a substring of a line.
func isSubsequence(want, got []string) bool {
	for _, w := range want {
		i := slices.IndexFunc(got, func(g string) bool { return strings.Contains(g, w) })
		if i < 0 {
			return false
		}
		got = got[i+1:]
	}
	return true
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// zipBase64 returns a base64 zip of files; files named exec are executable.
func zipBase64(files map[string]string) string {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		if name == "exec" {
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		if err == nil {
			_, err = io.WriteString(w, files[name])
		}
		if err != nil {
			panic(err) // writing to memory does not fail
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
