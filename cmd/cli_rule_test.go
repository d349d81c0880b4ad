package gustcmd

import (
	"testing"

	"github.com/gusthub/gust/rules"
)

func TestCLIRuleFilter(t *testing.T) {
	ts := newTestServer(t)
	filterOf := func(name string) func(t *testing.T) string {
		return func(t *testing.T) string {
			t.Helper()
			r, l := ts.rule(t, name)
			if link := string(l.Filter); link != string(r.Annotations.Get(rules.FilterAnnotation)) {
				t.Errorf("link filter %s, annotation %s", link, r.Annotations.Get(rules.FilterAnnotation))
			}
			return string(r.Annotations.Get(rules.FilterAnnotation))
		}
	}
	wantFilter := func(name, want string) func(t *testing.T) {
		return func(t *testing.T) {
			if got := filterOf(name)(t); got != want {
				t.Errorf("filter of %s = %s, want %s", name, got, want)
			}
		}
	}
	runSteps(t, ts.env(), []step{
		{name: "action", args: []string{"action", "create", "hello", "testdata/cli/hello.js"}, stdout: "ok: created action hello\n"},
		{name: "trigger", args: []string{"trigger", "create", "pushes"}, stdout: "ok: created trigger pushes\n"},
		{name: "create --filter", args: []string{"rule", "create", "r1", "pushes", "hello", "--filter", `[{"exact":{"type":"com.github.push"}}, {"exact":{"data.repository.name":"gust"}}]`},
			stdout: "ok: created rule r1\n", after: wantFilter("r1", `[{"exact":{"type":"com.github.push"}},{"exact":{"data.repository.name":"gust"}}]`)},
		{name: "create --filter-sql", args: []string{"rule", "create", "r2", "pushes", "hello", "--filter-sql", "type LIKE 'com.github.%'"},
			stdout: "ok: created rule r2\n", after: wantFilter("r2", `{"sql":"type LIKE 'com.github.%'"}`)},
		{name: "get shows it", args: []string{"rule", "get", "r2"}, prefix: true,
			stdout: "ok: got rule r2\n{\n    \"namespace\": \"guest\",\n    \"name\": \"r2\",\n    \"version\": \"0.0.1\",\n    \"status\": \"active\",\n" +
				"    \"trigger\": {\n        \"path\": \"guest\",\n        \"name\": \"pushes\"\n    },\n    \"action\": {\n        \"path\": \"guest\",\n        \"name\": \"hello\"\n    },\n" +
				"    \"annotations\": [\n        {\n            \"key\": \"filter\",\n            \"value\": {\n                \"sql\": \"type LIKE 'com.github.%'\"\n            }\n        }\n    ],\n"},
		{name: "update without a filter keeps it", args: []string{"rule", "update", "r2", "pushes", "hello"},
			stdout: "ok: updated rule r2\n", after: wantFilter("r2", `{"sql":"type LIKE 'com.github.%'"}`)},
		{name: "disable keeps it", args: []string{"rule", "disable", "r2"},
			stdout: "ok: disabled rule r2\n", after: wantFilter("r2", `{"sql":"type LIKE 'com.github.%'"}`)},
		{name: "update --filter null removes it", args: []string{"rule", "update", "r2", "pushes", "hello", "--filter", "null"},
			stdout: "ok: updated rule r2\n", after: wantFilter("r2", "")},
		{name: "both flags", args: []string{"rule", "create", "r3", "pushes", "hello", "--filter", `{"exact":{"type":"x"}}`, "--filter-sql", "type = 'x'"},
			errMsg: "give --filter or --filter-sql, not both", code: exitUsage},
		{name: "not JSON", args: []string{"rule", "create", "r3", "pushes", "hello", "--filter", `{"exact":`},
			errMsg: `invalid argument for --filter: not JSON: {"exact":`, code: exitUsage},
		{name: "invalid filter, from the server", args: []string{"rule", "create", "r3", "pushes", "hello", "--filter", `{"exact":{"Type":"x"}}`},
			errMsg: "Unable to create rule 'r3': The request content was malformed:\ninvalid filter: exact: attribute name 'Type' is not valid: CloudEvents attribute names are lower-case letters a-z and digits 0-9 (code ",
			code:   400 & 0xff},
		{name: "invalid SQL, from the server", args: []string{"rule", "create", "r3", "pushes", "hello", "--filter-sql", "type = "},
			errMsg: "Unable to create rule 'r3': The request content was malformed:\ninvalid filter: sql: syntax error at column 8: mismatched input '<EOF>'",
			code:   400 & 0xff},
	})
}
