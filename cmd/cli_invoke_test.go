package gustcmd

import (
	"net/http"
	"strings"
	"testing"
)

// activationJSON is a blocking invocation's answer, as the API writes it.
const activationJSON = `{"namespace":"guest","name":"hello","version":"0.0.1","subject":"guest","activationId":"5a1b2c3d4e5f40718293a4b5c6d7e8f9","start":1,"end":6,"duration":5,"statusCode":0,"response":{"status":"success","statusCode":0,"success":true,"result":{"payload":"Hello, World!"}},"logs":[],"annotations":[],"publish":false}`

const failedJSON = `{"activationId":"5a1b2c3d4e5f40718293a4b5c6d7e8f9","response":{"status":"application error","statusCode":1,"success":false,"result":{"error":"boom"}}}`

// TestCLIInvokeAndFire drives invoke and fire against the answers the API
// documents (openwhisk.md §2.3 and §2.2).
func TestCLIInvokeAndFire(t *testing.T) {
	const id = "5a1b2c3d4e5f40718293a4b5c6d7e8f9"
	accepted := wireAnswer{"POST", http.StatusAccepted, `{"activationId":"` + id + `"}`}
	sortedActivation := "{\n    \"activationId\": \"" + id + "\",\n    \"annotations\": [],\n    \"duration\": 5,\n    \"end\": 6,\n    \"logs\": [],\n" +
		"    \"name\": \"hello\",\n    \"namespace\": \"guest\",\n    \"publish\": false,\n    \"response\": {\n        \"result\": {\n" +
		"            \"payload\": \"Hello, World!\"\n        },\n        \"status\": \"success\",\n        \"statusCode\": 0,\n        \"success\": true\n    },\n" +
		"    \"start\": 1,\n    \"statusCode\": 0,\n    \"subject\": \"guest\",\n    \"version\": \"0.0.1\"\n}\n"
	for _, tc := range []struct {
		name   string
		args   []string
		answer wireAnswer
		stdout string
		stderr string // a part of it; "" for any
		errMsg string
		code   int
		quiet  bool // main prints no error line: the output said it
	}{
		{name: "non-blocking", args: []string{"action", "invoke", "hello", "-p", "name", "World"}, answer: accepted,
			stdout: "ok: invoked /_/hello with id " + id + "\n"},
		{name: "blocking", args: []string{"action", "invoke", "hello", "-b"}, answer: wireAnswer{"POST", 200, activationJSON},
			stdout: "ok: invoked /_/hello with id " + id + "\n" + sortedActivation},
		{name: "result", args: []string{"action", "invoke", "hello", "-r"}, answer: wireAnswer{"POST", 200, `{"payload":"Hello, World!"}`},
			stdout: "{\n    \"payload\": \"Hello, World!\"\n}\n"},
		{name: "result --json", args: []string{"action", "invoke", "hello", "-r", "--json"}, answer: wireAnswer{"POST", 200, `{"payload":"Hello, World!"}`},
			stdout: `{"payload":"Hello, World!"}` + "\n"},
		{name: "blocking, not finished in time", args: []string{"action", "invoke", "/guest/slow", "-b"}, answer: accepted,
			stdout: "ok: invoked /guest/slow, but the request has not yet finished, with id " + id + "\n"},
		{name: "application error", args: []string{"action", "invoke", "hello", "-b"}, answer: wireAnswer{"POST", 502, failedJSON},
			stdout: "ok: invoked /_/hello with id " + id + "\n{\n    \"activationId\": \"" + id + "\",\n    \"response\": {\n        \"result\": {\n            \"error\": \"boom\"\n        },\n" +
				"        \"status\": \"application error\",\n        \"statusCode\": 1,\n        \"success\": false\n    }\n}\n",
			errMsg: "Unable to invoke action 'hello': boom", code: 502 & 0xff},
		// The error once, where a person reads errors; --json gives scripts the result.
		{name: "application error, result", args: []string{"action", "invoke", "hello", "-r"}, answer: wireAnswer{"POST", 502, `{"error":"boom"}`},
			errMsg: "Unable to invoke action 'hello': boom", code: 502 & 0xff},
		{name: "application error, result --json", args: []string{"action", "invoke", "hello", "-r", "--json"}, answer: wireAnswer{"POST", 502, `{"error":"boom"}`},
			stdout: `{"error":"boom"}` + "\n", errMsg: "Unable to invoke action 'hello': boom", code: 502 & 0xff, quiet: true},
		{name: "server error with a code", args: []string{"action", "invoke", "nosuch"},
			answer: wireAnswer{"POST", 404, `{"error":"The requested resource does not exist.","code":"c9"}`},
			errMsg: "Unable to invoke action 'nosuch': The requested resource does not exist. (code c9)", code: 148},
		{name: "502 with a code is a plain error", args: []string{"action", "invoke", "hello", "-b"},
			answer: wireAnswer{"POST", 502, `{"error":"bad gateway","code":"c8"}`},
			errMsg: "Unable to invoke action 'hello': bad gateway (code c8)", code: 502 & 0xff},
		{name: "fire", args: []string{"trigger", "fire", "mytrigger", "-p", "temperature", "21"}, answer: accepted,
			stdout: "ok: triggered /_/mytrigger with id " + id + "\n"},
		{name: "fire, no active rule", args: []string{"trigger", "fire", "norules"}, answer: wireAnswer{"POST", 204, ""},
			stdout: "ok: triggered /_/norules, but it has no active rule: nothing ran and no activation was recorded (gust rule list shows its rules)\n"},
		{name: "fire --json", args: []string{"trigger", "fire", "mytrigger", "--json"}, answer: accepted,
			stdout: `{"activationId":"` + id + `"}` + "\n"},
		{name: "fire missing", args: []string{"trigger", "fire", "nosuch"},
			answer: wireAnswer{"POST", 404, `{"error":"The requested resource does not exist.","code":"c7"}`},
			errMsg: "Unable to fire trigger 'nosuch': The requested resource does not exist. (code c7)", code: 148},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWireServer(t, tc.answer)
			r := gust(t, w.env(), tc.args...)
			r.check(t, tc.stdout, tc.errMsg, tc.code)
			if quiet(r.err) != tc.quiet {
				t.Errorf("error line printed: %v, want %v", !quiet(r.err), !tc.quiet)
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tc.stderr)
			}
		})
	}
}

// TestCLIInvokeFinal follows a newcomer: --web true makes the action's
// parameters final, an invocation that sets one is refused with the
// parameter named, and the command the message suggests lifts that.
func TestCLIInvokeFinal(t *testing.T) {
	ts := newTestServer(t)
	env := ts.env()
	gust(t, env, "action", "create", "hello", "testdata/cli/hello.js", "-p", "name", "Ada").check(t, "ok: created action hello\n", "", 0)
	gust(t, env, "action", "update", "hello", "--web", "true").check(t, "ok: updated action hello\n", "", 0)
	gust(t, env, "action", "invoke", "hello", "-r", "-p", "name", "X").check(t, "",
		"Unable to invoke action 'hello': Request defines parameters that are not allowed (e.g., reserved properties). "+
			"The action's parameter 'name' is final: its 'final' annotation is true (--web true and --web raw set it), "+
			"so a request may not override the parameters the action or its package defines. "+
			"Remove 'name' from the request, or let requests override the action's parameters: 'gust action update hello -a final false'.", 400&0xff)

	gust(t, env, "action", "update", "hello", "-a", "final", "false").check(t, "ok: updated action hello\n", "", 0)
	if a := ts.action(t, "hello"); a.Annotations.IsTrue("final") || !a.Annotations.IsTrue("web-export") || string(a.Parameters.Get("name")) != `"Ada"` {
		t.Fatalf("after -a final false: annotations %v, parameters %v", a.Annotations, a.Parameters)
	}
	// Past the check now: this test server has no invoker to run it.
	gust(t, env, "action", "invoke", "hello", "-r", "-p", "name", "X").check(t, "", "System is overloaded", 503&0xff)
}
