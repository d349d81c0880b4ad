package gustcmd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/rules"
)

// pad is a name padded as wsk's lists pad it.
func pad(s string) string { return fmt.Sprintf("%-70s", s) }

// step is one CLI run of a table test and what it must print.
type step struct {
	name   string
	args   []string
	stdout string // exact, unless prefix is set
	prefix bool
	errMsg string // a substring of the error
	code   int
	// after checks the server's state.
	after func(t *testing.T)
}

// runSteps runs the steps in order against getenv.
func runSteps(t *testing.T, getenv func(string) string, steps []step) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := gust(t, getenv, s.args...)
			if s.prefix {
				if !strings.HasPrefix(r.stdout, s.stdout) {
					t.Errorf("stdout:\n%s\nwant prefix:\n%s", r.stdout, s.stdout)
				}
				r.stdout = s.stdout
			}
			r.check(t, s.stdout, s.errMsg, s.code)
			if s.after != nil {
				s.after(t)
			}
		})
	}
}

func (ts *testServer) action(t *testing.T, name string) *actions.Action {
	t.Helper()
	n, err := actions.ParseName(name, "guest")
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := ts.actions.GetAction(context.Background(), n, true)
	if err != nil {
		t.Fatalf("get action %s: %v", name, err)
	}
	return a
}

// rule returns guest's rule name and the link its trigger holds for it,
// which carries copies of the rule's filter and delivery policy.
func (ts *testServer) rule(t *testing.T, name string) (*rules.Rule, rules.Link) {
	t.Helper()
	r, _, err := ts.rules.GetRule(context.Background(), actions.Name{Namespace: "guest", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	tr, _, err := ts.rules.GetTrigger(context.Background(), r.Trigger.FullName())
	if err != nil {
		t.Fatal(err)
	}
	return r, tr.Rules[r.LinkKey()]
}

func (ts *testServer) missing(t *testing.T, name string) {
	t.Helper()
	n, _ := actions.ParseName(name, "guest")
	if _, _, err := ts.actions.GetAction(context.Background(), n, false); err == nil {
		t.Errorf("action %s still exists", name)
	}
}

func value(t *testing.T, kvs actions.KeyValues, key string) string {
	t.Helper()
	return string(kvs.Get(key))
}

func TestCLIAction(t *testing.T) {
	ts := newTestServer(t)
	zip, err := os.ReadFile("testdata/cli/action.zip")
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, ts.env(), []step{
		{name: "create", args: []string{"action", "create", "hello", "testdata/cli/hello.js"}, stdout: "ok: created action hello\n",
			after: func(t *testing.T) {
				a := ts.action(t, "hello")
				if a.Exec.Kind != "nodejs:20" || !strings.Contains(a.Exec.Code, "Hello, ") || a.Version != "0.0.1" {
					t.Errorf("action = %+v", a)
				}
			}},
		{name: "create again", args: []string{"action", "create", "hello", "testdata/cli/hello.js"},
			errMsg: "Unable to create action 'hello': resource already exists (code ", code: 409 & 0xff},
		{name: "create with flags", args: []string{"action", "create", "hello2", "testdata/cli/hello.js", "--kind", "nodejs:20",
			"-p", "greeting", "Hi", "-p", "n", "21", "-a", "description", "demo", "--memory", "128", "--timeout", "5000", "--logsize", "5", "--concurrency", "3", "--main", "main"},
			stdout: "ok: created action hello2\n",
			after: func(t *testing.T) {
				a := ts.action(t, "hello2")
				if value(t, a.Parameters, "greeting") != `"Hi"` || value(t, a.Parameters, "n") != "21" || value(t, a.Annotations, "description") != `"demo"` {
					t.Errorf("parameters %v, annotations %v", a.Parameters, a.Annotations)
				}
				if a.Limits != (actions.Limits{Timeout: 5000, Memory: 128, Logs: 5, Concurrency: 3}) || a.Exec.Main != "main" {
					t.Errorf("limits %+v, main %q", a.Limits, a.Exec.Main)
				}
			}},
		{name: "kind from .py", args: []string{"action", "create", "pyhello", "testdata/cli/hello.py"}, stdout: "ok: created action pyhello\n",
			after: func(t *testing.T) {
				if k := ts.action(t, "pyhello").Exec.Kind; k != "python:3" {
					t.Errorf("kind = %s", k)
				}
			}},
		{name: "unknown extension", args: []string{"action", "create", "txt", "testdata/cli/hello.txt"},
			errMsg: `cannot tell the kind of testdata/cli/hello.txt from its extension ".txt": add --kind`, code: exitUsage},
		{name: "subcommand typo", args: []string{"action", "lst"}, errMsg: "unknown command \"lst\" for \"gust action\"\n\nDid you mean this?\n\tget\n\tlist", code: exitGeneral},
		{name: "zip needs --kind", args: []string{"action", "create", "zipaction", "testdata/cli/action.zip"},
			errMsg: "requires specifying the action kind explicitly: add --kind", code: exitUsage},
		{name: "zip", args: []string{"action", "create", "zipaction", "testdata/cli/action.zip", "--kind", "nodejs:20"}, stdout: "ok: created action zipaction\n",
			after: func(t *testing.T) {
				a := ts.action(t, "zipaction")
				if !a.Exec.Binary || a.Exec.Code != base64.StdEncoding.EncodeToString(zip) {
					t.Errorf("exec = binary %v, code %.20s…", a.Exec.Binary, a.Exec.Code)
				}
			}},
		{name: "-P file, -p overrides", args: []string{"action", "create", "withfile", "testdata/cli/hello.js", "-P", "testdata/cli/params.json", "-p", "size", "4"},
			stdout: "ok: created action withfile\n",
			after: func(t *testing.T) {
				a := ts.action(t, "withfile")
				if got, _ := json.Marshal(a.Parameters); string(got) != `[{"key":"color","value":"green"},{"key":"size","value":4}]` {
					t.Errorf("parameters = %s", got)
				}
			}},
		{name: "missing -P file", args: []string{"action", "create", "x", "testdata/cli/hello.js", "-P", "testdata/cli/nope.json"},
			errMsg: "read testdata/cli/nope.json", code: exitUsage},
		{name: "-p without a value", args: []string{"action", "create", "x", "testdata/cli/hello.js", "-p", "k"},
			errMsg: "arguments for '-p' must be a key/value pair", code: exitUsage},
		{name: "update", args: []string{"action", "update", "hello", "testdata/cli/hello.js", "-p", "name", "Bob"}, stdout: "ok: updated action hello\n",
			after: func(t *testing.T) {
				a := ts.action(t, "hello")
				if a.Version != "0.0.2" || value(t, a.Parameters, "name") != `"Bob"` {
					t.Errorf("version %s, parameters %v", a.Version, a.Parameters)
				}
			}},
		{name: "update creates", args: []string{"action", "update", "fresh", "testdata/cli/hello.js"}, stdout: "ok: updated action fresh\n",
			after: func(t *testing.T) { ts.action(t, "fresh") }},
		{name: "update without code keeps it", args: []string{"action", "update", "fresh", "--memory", "256", "-a", "description", "new"}, stdout: "ok: updated action fresh\n",
			after: func(t *testing.T) {
				a := ts.action(t, "fresh")
				if a.Exec.Kind != "nodejs:20" || a.Exec.Code == "" || value(t, a.Annotations, "description") != `"new"` {
					t.Errorf("action = %+v", a)
				}
			}},
		{name: "web true", args: []string{"action", "create", "webhello", "testdata/cli/hello.js", "--web", "true"}, stdout: "ok: created action webhello\n",
			after: func(t *testing.T) {
				a := ts.action(t, "webhello")
				if !a.Annotations.IsTrue("web-export") || a.Annotations.IsTrue("raw-http") || !a.Annotations.IsTrue("final") {
					t.Errorf("annotations = %v", a.Annotations)
				}
			}},
		{name: "web raw", args: []string{"action", "update", "webhello", "--web", "raw"}, stdout: "ok: updated action webhello\n",
			after: func(t *testing.T) {
				if a := ts.action(t, "webhello"); !a.Annotations.IsTrue("raw-http") {
					t.Errorf("annotations = %v", a.Annotations)
				}
			}},
		{name: "web bogus", args: []string{"action", "update", "webhello", "--web", "maybe"},
			errMsg: "invalid argument 'maybe' for --web", code: exitUsage},
		{name: "sequence", args: []string{"action", "create", "seq", "--sequence", "hello,hello2"}, stdout: "ok: created action seq\n",
			after: func(t *testing.T) {
				a := ts.action(t, "seq")
				if a.Exec.Kind != "sequence" || strings.Join(a.Exec.Components, ",") != "/guest/hello,/guest/hello2" {
					t.Errorf("exec = %+v", a.Exec)
				}
			}},
		{name: "sequence of a missing action", args: []string{"action", "create", "badseq", "--sequence", "hello,nosuch"},
			errMsg: "Unable to create action 'badseq': Sequence component does not exist: /guest/nosuch. (code ", code: 400 & 0xff},
		{name: "a value with spaces, unquoted", args: []string{"action", "create", "x", "hello.js", "-p", "name", "Ada", "London"},
			errMsg: "-p name Ada takes one key and one value, so 'London' is an argument too many: quote a value that has spaces, as in -p name 'Ada London'",
			code:   exitUsage},
		{name: "an argument too many", args: []string{"action", "create", "x", "hello.js", "more"},
			errMsg: "unexpected argument 'more'; usage: gust action create NAME [FILE] [flags]", code: exitUsage},
		{name: "docker", args: []string{"action", "create", "img", "--docker", "me/img:1"}, stdout: "ok: created action img\n",
			after: func(t *testing.T) {
				if e := ts.action(t, "img").Exec; e.Kind != "blackbox" || e.Image != "me/img:1" {
					t.Errorf("exec = %+v", e)
				}
			}},
		{name: "native", args: []string{"action", "create", "nat", "testdata/cli/action.zip", "--native"}, stdout: "ok: created action nat\n",
			after: func(t *testing.T) {
				if e := ts.action(t, "nat").Exec; e.Kind != "blackbox" || e.Image != "openwhisk/dockerskeleton" || !e.Binary {
					t.Errorf("exec = %+v", e)
				}
			}},
		{name: "no code", args: []string{"action", "create", "nocode"}, errMsg: "an action needs a code FILE, --sequence or --docker", code: exitUsage},
		{name: "get", args: []string{"action", "get", "hello"}, prefix: true,
			stdout: "ok: got action hello\n{\n    \"namespace\": \"guest\",\n    \"name\": \"hello\",\n    \"version\": \"0.0.2\",\n    \"exec\": {\n        \"kind\": \"nodejs:20\",\n        \"binary\": false\n    },\n"},
		{name: "get --summary", args: []string{"action", "get", "hello2", "--summary"},
			stdout: "action /guest/hello2: demo\n   (parameters: *greeting, *n)\n"},
		{name: "get --summary without parameters", args: []string{"action", "get", "seq", "--summary"},
			stdout: "action /guest/seq\n   (parameters: none defined)\n"},
		{name: "get --url", args: []string{"action", "get", "webhello", "--url"},
			stdout: "ok: got action webhello\n" + ts.apiHost + "/api/v1/web/guest/default/webhello\n"},
		{name: "get missing", args: []string{"action", "get", "nosuchaction"},
			errMsg: "Unable to get action 'nosuchaction': The requested resource does not exist. (code ", code: 148},
		{name: "list --limit --skip", args: []string{"action", "list", "--limit", "2", "--skip", "1"}, stdout: "actions\n" +
			pad("/guest/img") + " private blackbox\n" +
			pad("/guest/seq") + " private sequence\n"},
		{name: "delete", args: []string{"action", "delete", "hello2"}, stdout: "ok: deleted action hello2\n",
			after: func(t *testing.T) { ts.missing(t, "hello2") }},
		{name: "delete missing", args: []string{"action", "delete", "hello2"},
			errMsg: "Unable to delete action 'hello2': The requested resource does not exist.", code: 148},
	})
}
