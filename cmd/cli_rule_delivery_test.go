package gustcmd

import (
	"encoding/json"
	"testing"

	"github.com/gusthub/gust/rules"
)

func TestCLIRuleDelivery(t *testing.T) {
	ts := newTestServer(t)
	wantPolicy := func(name, want string) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			r, l := ts.rule(t, name)
			link := ""
			if d := l.Delivery; d != nil {
				b, _ := json.Marshal(d)
				link = string(b)
			}
			if got := string(r.Annotations.Get(rules.DeliveryAnnotation)); got != want || link != want {
				t.Errorf("policy of %s: annotation %s, link %s; want %s", name, got, link, want)
			}
		}
	}
	runSteps(t, ts.env(), []step{
		{name: "action", args: []string{"action", "create", "hello", "testdata/cli/hello.js"}, stdout: "ok: created action hello\n"},
		{name: "trigger", args: []string{"trigger", "create", "pushes"}, stdout: "ok: created trigger pushes\n"},
		{name: "dead-letter trigger", args: []string{"trigger", "create", "failed"}, stdout: "ok: created trigger failed\n"},
		{name: "create with a policy", args: []string{"rule", "create", "r1", "pushes", "hello", "--retries", "3", "--backoff", "500ms", "--dead-letter", "failed"},
			stdout: "ok: created rule r1\n", after: wantPolicy("r1", `{"retries":3,"backoff":"500ms","deadLetter":"/guest/failed"}`)},
		{name: "update without policy flags keeps it", args: []string{"rule", "update", "r1", "pushes", "hello"},
			stdout: "ok: updated rule r1\n", after: wantPolicy("r1", `{"retries":3,"backoff":"500ms","deadLetter":"/guest/failed"}`)},
		{name: "update with a flag replaces it", args: []string{"rule", "update", "r1", "pushes", "hello", "--dead-letter", "/_/failed"},
			stdout: "ok: updated rule r1\n", after: wantPolicy("r1", `{"retries":0,"deadLetter":"/guest/failed"}`)},
		{name: "--no-delivery removes it", args: []string{"rule", "update", "r1", "pushes", "hello", "--no-delivery"},
			stdout: "ok: updated rule r1\n", after: wantPolicy("r1", "")},
		{name: "both", args: []string{"rule", "update", "r1", "pushes", "hello", "--no-delivery", "--retries", "2"},
			errMsg: "give --no-delivery or --retries, --backoff and --dead-letter, not both", code: exitUsage},
		{name: "too many retries, from the server", args: []string{"rule", "create", "r2", "pushes", "hello", "--retries", "11"},
			errMsg: "Unable to create rule 'r2': The request content was malformed:\ninvalid delivery policy: retries must be between 0 and 10, not 11 (code ",
			code:   400 & 0xff},
		{name: "missing dead-letter trigger, from the server", args: []string{"rule", "create", "r2", "pushes", "hello", "--dead-letter", "nope"},
			errMsg: "Unable to create rule 'r2': The request content was malformed:\ninvalid delivery policy: the dead-letter trigger /guest/nope does not exist (code ",
			code:   400 & 0xff},
	})
}
