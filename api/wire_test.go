package api_test

import (
	"net/http"
	"slices"
	"testing"
)

// Request bodies exactly as the wsk CLI sends them (wsk-wire.md).
const (
	bodyHello       = `{"namespace":"_","name":"hello","exec":{"kind":"nodejs:default","code":"function main(params) {\n  return { payload: 'Hello, ' + (params.name || 'World') + '!' };\n}\n"}}` + "\n"
	bodyHello2      = `{"namespace":"_","name":"hello2","exec":{"kind":"nodejs:20","code":"function main(params) {\n  return { payload: 'Hello, ' + (params.name || 'World') + '!' };\n}\n"},"annotations":[{"key":"description","value":"demo"}],"parameters":[{"key":"greeting","value":"Hi"}],"limits":{"timeout":5000,"memory":128}}` + "\n"
	bodyPyHello     = `{"namespace":"_","name":"pyhello","exec":{"kind":"python:default","code":"def main(args):\n    return {\"greeting\": \"Hello \" + args.get(\"name\", \"stranger\")}\n"}}` + "\n"
	bodyZip         = `{"namespace":"_","name":"zipaction","exec":{"kind":"nodejs:20","code":"UEsDBBQAAAAAAPNzeF1bv0U3XAAAAFwAAAAIAAAAaW5kZXguanNmdW5jdGlvbiBtYWluKHBhcmFtcykgewogIHJldHVybiB7IHBheWxvYWQ6ICdIZWxsbywgJyArIChwYXJhbXMubmFtZSB8fCAnV29ybGQnKSArICchJyB9Owp9ClBLAwQUAAAAAADzc3hdn25LuicAAAAnAAAADAAAAHBhY2thZ2UuanNvbnsibmFtZSI6InppcGFjdGlvbiIsIm1haW4iOiJpbmRleC5qcyJ9ClBLAQIUAxQAAAAAAPNzeF1bv0U3XAAAAFwAAAAIAAAAAAAAAAAAAACkgQAAAABpbmRleC5qc1BLAQIUAxQAAAAAAPNzeF2fbku6JwAAACcAAAAMAAAAAAAAAAAAAACkgYIAAABwYWNrYWdlLmpzb25QSwUGAAAAAAIAAgBwAAAA0wAAAAAA"}}` + "\n"
	bodyHelloUpdate = `{"namespace":"_","name":"hello","exec":{"kind":"nodejs:default","code":"function main(params) {\n  return { payload: 'Hello, ' + (params.name || 'World') + '!' };\n}\n"},"parameters":[{"key":"name","value":"Bob"}]}` + "\n"
	bodyWebHello    = `{"namespace":"_","name":"webhello","exec":{"kind":"nodejs:default","code":"function main(params) {\n  return { payload: 'Hello, ' + (params.name || 'World') + '!' };\n}\n"},"annotations":[{"key":"web-export","value":true},{"key":"raw-http","value":false},{"key":"final","value":true}]}` + "\n"
	bodySeq         = `{"namespace":"_","name":"seq","exec":{"kind":"sequence","components":["/_/hello","/_/hello2"]}}` + "\n"
	bodyTrigger     = `{"name":"mytrigger","parameters":[{"key":"source","value":"demo"}]}` + "\n"
	bodyFeedTrigger = `{"name":"feedtrig","annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}]}` + "\n"
	bodyRule        = `{"name":"myrule","status":"","trigger":"/_/mytrigger","action":"/_/hello"}` + "\n"
	bodyDisable     = `{"status":"inactive","trigger":null,"action":null}` + "\n"
	bodyEnable      = `{"status":"active","trigger":null,"action":null}` + "\n"
	bodyPackage     = `{"namespace":"_","name":"mypkg","parameters":[{"key":"color","value":"red"}]}` + "\n"
	bodyInPkg       = `{"namespace":"_","name":"mypkg/inpkg","exec":{"kind":"nodejs:default","code":"function main(params) {\n  return { payload: 'Hello, ' + (params.name || 'World') + '!' };\n}\n"}}` + "\n"
	bodyBinding     = `{"parameters":[{"key":"color","value":"blue"}],"binding":{"namespace":"_","name":"mypkg"}}` + "\n"
)

// wireBodies are the PUT bodies of wsk-wire.md; they seed the fuzz corpus.
var wireBodies = []string{bodyHello, bodyHello2, bodyPyHello, bodyZip, bodyHelloUpdate, bodyWebHello, bodySeq,
	bodyTrigger, bodyFeedTrigger, bodyRule, bodyDisable, bodyEnable, bodyPackage, bodyInPkg, bodyBinding}

// names returns the "name" field of every item of a list.
func names(items []map[string]any) []string { return field(items, "name") }

// field returns the string field key of every item of a list ("" where
// it is not a string).
func field(items []map[string]any, key string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it[key].(string)
	}
	return out
}

// TestWire replays, in order, every request wsk-wire.md records for
// actions, triggers, rules, packages and namespaces (invocations and fires
// excepted), and compares each answer with OpenWhisk's.
func TestWire(t *testing.T) {
	e := newEnv(t)
	type step struct {
		name, method, path, body string
		status                   int
		// golden names the testdata file of the response body, if any.
		golden string
		check  func(t *testing.T, r response)
	}
	steps := []step{
		{name: "action create", method: "PUT", path: "/api/v1/namespaces/_/actions/hello?overwrite=false", body: bodyHello,
			status: 200, golden: "action_create_hello"},
		{name: "action create with kind, params, annotations, limits", method: "PUT",
			path: "/api/v1/namespaces/_/actions/hello2?overwrite=false", body: bodyHello2, status: 200, golden: "action_create_hello2"},
		{name: "action create python", method: "PUT", path: "/api/v1/namespaces/_/actions/pyhello?overwrite=false", body: bodyPyHello,
			status: 200, check: func(t *testing.T, r response) {
				exec := r.object(t)["exec"].(map[string]any)
				if exec["kind"] != "python:3" || exec["binary"] != false {
					t.Errorf("exec %v, want kind python:3 (python:default) and binary false", exec)
				}
			}},
		{name: "action create zip", method: "PUT", path: "/api/v1/namespaces/_/actions/zipaction?overwrite=false", body: bodyZip,
			status: 200, golden: "action_create_zip"},
		{name: "action update reads without code", method: "GET", path: "/api/v1/namespaces/_/actions/hello?code=false",
			status: 200, golden: "action_get_hello_v1"},
		{name: "action update", method: "PUT", path: "/api/v1/namespaces/_/actions/hello?overwrite=true", body: bodyHelloUpdate,
			status: 200, golden: "action_update_hello"},
		{name: "action create web", method: "PUT", path: "/api/v1/namespaces/_/actions/webhello?overwrite=false", body: bodyWebHello,
			status: 200, golden: "action_create_webhello"},
		{name: "action create sequence", method: "PUT", path: "/api/v1/namespaces/_/actions/seq?overwrite=false", body: bodySeq,
			status: 200, golden: "action_create_seq"},
		{name: "action get", method: "GET", path: "/api/v1/namespaces/_/actions/hello?code=false",
			status: 200, golden: "action_get_hello"},
		{name: "action get missing", method: "GET", path: "/api/v1/namespaces/_/actions/nosuchaction?code=false",
			status: 404, golden: "error_not_found"},
		{name: "action list", method: "GET", path: "/api/v1/namespaces/_/actions?limit=30&skip=0",
			status: 200, golden: "action_list"},
		{name: "action list limit skip", method: "GET", path: "/api/v1/namespaces/_/actions?limit=5&skip=2",
			status: 200, check: func(t *testing.T, r response) {
				// Newest first: seq webhello hello zipaction pyhello hello2.
				want := []string{"hello", "zipaction", "pyhello", "hello2"}
				if got := names(r.list(t)); !slices.Equal(got, want) {
					t.Errorf("names %v, want %v", got, want)
				}
			}},
		{name: "action delete", method: "DELETE", path: "/api/v1/namespaces/_/actions/hello2",
			status: 200, golden: "action_delete_hello2"},
		{name: "action deleted", method: "GET", path: "/api/v1/namespaces/_/actions/hello2?code=false", status: 404},
		{name: "trigger create", method: "PUT", path: "/api/v1/namespaces/_/triggers/mytrigger?overwrite=false", body: bodyTrigger,
			status: 200, golden: "trigger_create"},
		{name: "trigger create with feed", method: "PUT", path: "/api/v1/namespaces/_/triggers/feedtrig?overwrite=false",
			body: bodyFeedTrigger, status: 200, golden: "trigger_create_feed"},
		{name: "trigger delete with feed reads it", method: "GET", path: "/api/v1/namespaces/_/triggers/feedtrig", status: 200},
		{name: "trigger delete with feed", method: "DELETE", path: "/api/v1/namespaces/_/triggers/feedtrig", status: 200},
		{name: "trigger get", method: "GET", path: "/api/v1/namespaces/_/triggers/mytrigger", status: 200, golden: "trigger_get"},
		{name: "trigger list", method: "GET", path: "/api/v1/namespaces/_/triggers?limit=30&skip=0", status: 200, golden: "trigger_list"},
		{name: "rule create", method: "PUT", path: "/api/v1/namespaces/_/rules/myrule?overwrite=false", body: bodyRule,
			status: 200, golden: "rule_create"},
		{name: "rule list", method: "GET", path: "/api/v1/namespaces/_/rules?limit=30&skip=0", status: 200, golden: "rule_list"},
		{name: "rule list reads each rule", method: "GET", path: "/api/v1/namespaces/_/rules/myrule", status: 200, golden: "rule_get"},
		{name: "trigger get shows its rules", method: "GET", path: "/api/v1/namespaces/_/triggers/mytrigger", status: 200,
			golden: "trigger_get_with_rule"},
		{name: "rule disable", method: "POST", path: "/api/v1/namespaces/_/rules/myrule", body: bodyDisable, status: 200,
			check: wantRuleStatus("inactive")},
		{name: "rule disabled", method: "GET", path: "/api/v1/namespaces/_/rules/myrule", status: 200, check: wantRuleStatus("inactive")},
		{name: "rule disable again", method: "POST", path: "/api/v1/namespaces/_/rules/myrule", body: bodyDisable, status: 200,
			check: wantRuleStatus("inactive")},
		{name: "rule enable", method: "POST", path: "/api/v1/namespaces/_/rules/myrule", body: bodyEnable, status: 200,
			check: wantRuleStatus("active")},
		{name: "rule enabled", method: "GET", path: "/api/v1/namespaces/_/rules/myrule", status: 200, check: wantRuleStatus("active")},
		{name: "rule delete", method: "DELETE", path: "/api/v1/namespaces/_/rules/myrule", status: 200},
		{name: "rule deleted", method: "GET", path: "/api/v1/namespaces/_/rules/myrule", status: 404},
		{name: "trigger forgets deleted rule", method: "GET", path: "/api/v1/namespaces/_/triggers/mytrigger", status: 200,
			check: func(t *testing.T, r response) {
				if rs, ok := r.object(t)["rules"]; ok && len(rs.(map[string]any)) != 0 {
					t.Errorf("rules %v after the rule was deleted", rs)
				}
			}},
		{name: "trigger delete", method: "DELETE", path: "/api/v1/namespaces/_/triggers/mytrigger", status: 200,
			golden: "trigger_delete"},
		{name: "trigger deleted", method: "GET", path: "/api/v1/namespaces/_/triggers/mytrigger", status: 404},
		{name: "package create", method: "PUT", path: "/api/v1/namespaces/_/packages/mypkg?overwrite=false", body: bodyPackage,
			status: 200, golden: "package_create"},
		{name: "action create inside package", method: "PUT", path: "/api/v1/namespaces/_/actions/mypkg/inpkg?overwrite=false",
			body: bodyInPkg, status: 200, golden: "action_create_inpkg"},
		{name: "package bind", method: "PUT", path: "/api/v1/namespaces/_/packages/mybinding?overwrite=false", body: bodyBinding,
			status: 200, golden: "package_bind"},
		{name: "package get", method: "GET", path: "/api/v1/namespaces/_/packages/mypkg", status: 200, golden: "package_get"},
		{name: "package list", method: "GET", path: "/api/v1/namespaces/_/packages?limit=30&skip=0", status: 200,
			golden: "package_list"},
		{name: "list actions", method: "GET", path: "/api/v1/namespaces/_/actions?limit=0&skip=0", status: 200,
			check: func(t *testing.T, r response) {
				want := []string{"inpkg", "seq", "webhello", "hello", "zipaction", "pyhello"}
				if got := names(r.list(t)); !slices.Equal(got, want) {
					t.Errorf("names %v, want %v", got, want)
				}
			}},
		{name: "list packages", method: "GET", path: "/api/v1/namespaces/_/packages?limit=0&skip=0", status: 200,
			check: func(t *testing.T, r response) {
				if got := names(r.list(t)); !slices.Equal(got, []string{"mybinding", "mypkg"}) {
					t.Errorf("names %v", got)
				}
			}},
		{name: "list triggers", method: "GET", path: "/api/v1/namespaces/_/triggers?limit=0&skip=0", status: 200,
			check: func(t *testing.T, r response) {
				if l := r.list(t); len(l) != 0 {
					t.Errorf("triggers %v, want none", l)
				}
			}},
		{name: "list rules", method: "GET", path: "/api/v1/namespaces/_/rules?limit=0&skip=0", status: 200,
			check: func(t *testing.T, r response) {
				if l := r.list(t); len(l) != 0 {
					t.Errorf("rules %v, want none", l)
				}
			}},
		{name: "namespace list", method: "GET", path: "/api/v1/namespaces", status: 200,
			check: func(t *testing.T, r response) {
				if string(r.body) != `["guest"]` {
					t.Errorf("body %s, want [\"guest\"]", r.body)
				}
			}},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) {
			r := e.guest(s.method, s.path, s.body)
			if r.status != s.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", s.method, s.path, r.status, s.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if s.status >= 400 {
				checkErrorBody(t, r, "")
			}
			if s.golden != "" {
				golden(t, s.golden, r.body)
			}
			if s.check != nil {
				s.check(t, r)
			}
		}) {
			t.FailNow() // later steps depend on this one
		}
	}

	t.Run("property get reads API info without auth", func(t *testing.T) {
		r := e.do("GET", "/api/v1", "", "")
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		golden(t, "api_info", r.body)
	})
}

func wantRuleStatus(status string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		if got := r.object(t)["status"]; got != status {
			t.Errorf("status %v, want %s", got, status)
		}
	}
}
