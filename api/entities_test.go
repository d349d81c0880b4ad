package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

const nodeCode = `{"exec":{"kind":"nodejs:20","code":"function main(p) { return p }"}}`

// params returns the parameters (or annotations) field of an entity as a
// map.
func params(t *testing.T, entity map[string]any, field string) map[string]any {
	t.Helper()
	out := map[string]any{}
	list, _ := entity[field].([]any)
	for _, x := range list {
		kv := x.(map[string]any)
		out[kv["key"].(string)] = kv["value"]
	}
	return out
}

func TestActionUpdateMerges(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", "/api/v1/namespaces/_/actions/a", `{"exec":{"kind":"nodejs:20","code":"x"},
		"parameters":[{"key":"p","value":1}],
		"annotations":[{"key":"description","value":"d"},{"key":"keep","value":true}],
		"limits":{"timeout":1000,"memory":512,"logs":2,"concurrency":3}}`)

	steps := []struct {
		name, body string
		check      func(t *testing.T, a map[string]any)
	}{
		{"version bumps and absent fields keep their values", `{}`, func(t *testing.T, a map[string]any) {
			if a["version"] != "0.0.2" {
				t.Errorf("version %v, want 0.0.2", a["version"])
			}
			if p := params(t, a, "parameters"); p["p"] != 1.0 {
				t.Errorf("parameters %v", p)
			}
			lim := a["limits"].(map[string]any)
			if lim["timeout"] != 1000.0 || lim["memory"] != 512.0 || lim["logs"] != 2.0 || lim["concurrency"] != 3.0 {
				t.Errorf("limits %v", lim)
			}
			if code := a["exec"].(map[string]any)["code"]; code != "x" {
				t.Errorf("code %v, want x", code)
			}
		}},
		{"delAnnotations removes annotations, others stay", `{"delAnnotations":["description"]}`, func(t *testing.T, a map[string]any) {
			ann := params(t, a, "annotations")
			if _, ok := ann["description"]; ok {
				t.Errorf("description still present: %v", ann)
			}
			if ann["keep"] != true || ann["exec"] != "nodejs:20" || ann["provide-api-key"] != false {
				t.Errorf("annotations %v", ann)
			}
			if a["version"] != "0.0.3" {
				t.Errorf("version %v, want 0.0.3", a["version"])
			}
		}},
		{"a new kind updates the exec annotation", `{"exec":{"kind":"python:default","code":"def main(a): return a"}}`,
			func(t *testing.T, a map[string]any) {
				if ann := params(t, a, "annotations"); ann["exec"] != "python:3" {
					t.Errorf("exec annotation %v, want python:3", ann["exec"])
				}
			}},
		{"one limit changes alone", `{"limits":{"memory":128}}`, func(t *testing.T, a map[string]any) {
			lim := a["limits"].(map[string]any)
			if lim["timeout"] != 1000.0 || lim["memory"] != 128.0 {
				t.Errorf("limits %v", lim)
			}
		}},
		{"provide-api-key given by the user is kept", `{"annotations":[{"key":"provide-api-key","value":true}]}`,
			func(t *testing.T, a map[string]any) {
				if ann := params(t, a, "annotations"); ann["provide-api-key"] != true {
					t.Errorf("provide-api-key %v, want true", ann["provide-api-key"])
				}
			}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			put := e.must("PUT", "/api/v1/namespaces/_/actions/a?overwrite=true", s.body).object(t)
			s.check(t, put)
			get := e.must("GET", "/api/v1/namespaces/_/actions/a", "").object(t)
			if put["version"] != get["version"] || put["updated"] != get["updated"] {
				t.Errorf("GET %v/%v differs from the PUT answer %v/%v", get["version"], get["updated"], put["version"], put["updated"])
			}
		})
	}
}

func TestActionCodeQuery(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", "/api/v1/namespaces/_/actions/a", nodeCode)
	for _, tc := range []struct {
		query    string
		wantCode bool
	}{{"", true}, {"?code=true", true}, {"?code=false", false}, {"?code=FALSE", false}} {
		t.Run(tc.query, func(t *testing.T) {
			exec := e.must("GET", "/api/v1/namespaces/_/actions/a"+tc.query, "").object(t)["exec"].(map[string]any)
			if _, has := exec["code"]; has != tc.wantCode {
				t.Errorf("exec %v: code present %v, want %v", exec, has, tc.wantCode)
			}
			if exec["binary"] != false {
				t.Errorf("binary %v", exec["binary"])
			}
		})
	}
	wantError(t, e.guest("GET", "/api/v1/namespaces/_/actions/a?code=maybe", ""), 400,
		"The value 'maybe' of parameter 'code' is not a boolean.")
}

func TestPackageActions(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", "/api/v1/namespaces/_/packages/p", `{"parameters":[{"key":"a","value":"pkg"},{"key":"b","value":"pkg"},{"key":"c","value":"pkg"}]}`)
	e.must("PUT", "/api/v1/namespaces/_/actions/p/act", `{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"c","value":"act"}]}`)
	e.must("PUT", "/api/v1/namespaces/_/actions/p/feed", `{"exec":{"kind":"nodejs:20","code":"x"},"annotations":[{"key":"feed","value":true}]}`)
	e.must("PUT", "/api/v1/namespaces/_/actions/top", nodeCode)
	e.must("PUT", "/api/v1/namespaces/_/packages/bnd", `{"binding":{"namespace":"_","name":"p"},"parameters":[{"key":"b","value":"bind"},{"key":"c","value":"bind"}]}`)

	t.Run("trailing slash lists the package's actions", func(t *testing.T) {
		got := names(e.must("GET", "/api/v1/namespaces/_/actions/p/", "").list(t))
		if !slices.Equal(got, []string{"feed", "act"}) {
			t.Errorf("names %v", got)
		}
	})
	t.Run("trailing slash on a binding lists the bound package's actions", func(t *testing.T) {
		l := e.must("GET", "/api/v1/namespaces/_/actions/bnd/", "").list(t)
		if got := names(l); !slices.Equal(got, []string{"feed", "act"}) {
			t.Errorf("names %v", got)
		}
		if l[0]["namespace"] != "guest/p" {
			t.Errorf("namespace %v, want guest/p", l[0]["namespace"])
		}
	})
	t.Run("trailing slash on a missing package", func(t *testing.T) {
		wantError(t, e.guest("GET", "/api/v1/namespaces/_/actions/nopkg/", ""), 404, "The requested resource does not exist.")
	})
	t.Run("package action has pkg/action name", func(t *testing.T) {
		a := e.must("GET", "/api/v1/namespaces/_/actions/p/act", "").object(t)
		if a["namespace"] != "guest/p" || a["name"] != "act" {
			t.Errorf("namespace/name %v/%v", a["namespace"], a["name"])
		}
		if p := params(t, a, "parameters"); p["a"] != "pkg" || p["b"] != "pkg" || p["c"] != "act" {
			t.Errorf("parameters %v: want package < action", p)
		}
	})
	t.Run("GET through a binding merges package < binding < action", func(t *testing.T) {
		a := e.must("GET", "/api/v1/namespaces/_/actions/bnd/act", "").object(t)
		if p := params(t, a, "parameters"); p["a"] != "pkg" || p["b"] != "bind" || p["c"] != "act" || len(p) != 3 {
			t.Errorf("parameters %v", p)
		}
		if a["namespace"] != "guest/p" {
			t.Errorf("namespace %v, want the bound package guest/p", a["namespace"])
		}
		if ann := params(t, a, "annotations"); ann["binding"] != "guest/bnd" {
			t.Errorf("binding annotation %v, want guest/bnd", ann["binding"])
		}
	})
	t.Run("package GET lists actions and feeds", func(t *testing.T) {
		p := e.must("GET", "/api/v1/namespaces/_/packages/p", "").object(t)
		if got := names(toObjects(p["actions"])); !slices.Equal(got, []string{"act"}) {
			t.Errorf("actions %v", got)
		}
		if got := names(toObjects(p["feeds"])); !slices.Equal(got, []string{"feed"}) {
			t.Errorf("feeds %v", got)
		}
	})
	t.Run("binding GET merges the bound package's parameters", func(t *testing.T) {
		b := e.must("GET", "/api/v1/namespaces/_/packages/bnd", "").object(t)
		if p := params(t, b, "parameters"); p["a"] != "pkg" || p["b"] != "bind" || p["c"] != "bind" {
			t.Errorf("parameters %v, want package < binding", p)
		}
		if got := names(toObjects(b["actions"])); !slices.Equal(got, []string{"act"}) {
			t.Errorf("actions %v", got)
		}
		if ann := params(t, b, "annotations"); ann["binding"] == nil {
			t.Errorf("annotations %v: OpenWhisk annotates bindings with binding", ann)
		}
	})
	t.Run("actions may not be created in a binding", func(t *testing.T) {
		wantError(t, e.guest("PUT", "/api/v1/namespaces/_/actions/bnd/x", nodeCode), 400, "Operation not permitted on package binding.")
	})
	t.Run("actions may not be created in a missing package", func(t *testing.T) {
		wantError(t, e.guest("PUT", "/api/v1/namespaces/_/actions/nopkg/x", nodeCode), 404, "The requested resource does not exist.")
	})
	t.Run("delete of a non-empty package needs force", func(t *testing.T) {
		wantError(t, e.guest("DELETE", "/api/v1/namespaces/_/packages/p", ""), 409,
			"Package not empty (contains 2 entities). Set force param or delete package contents.")
		e.must("DELETE", "/api/v1/namespaces/_/actions/p/feed", "")
		wantError(t, e.guest("DELETE", "/api/v1/namespaces/_/packages/p", ""), 409,
			"Package not empty (contains 1 entity). Set force param or delete package contents.")
		e.must("DELETE", "/api/v1/namespaces/_/packages/p?force=true", "")
		wantError(t, e.guest("GET", "/api/v1/namespaces/_/actions/p/act", ""), 404, "The requested resource does not exist.")
		if got := names(e.must("GET", "/api/v1/namespaces/_/actions", "").list(t)); !slices.Equal(got, []string{"top"}) {
			t.Errorf("actions after forced delete %v, want [top]", got)
		}
	})
	t.Run("a binding deletes without force", func(t *testing.T) {
		e.must("DELETE", "/api/v1/namespaces/_/packages/bnd", "")
	})
}

func toObjects(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, len(l))
	for i, x := range l {
		out[i], _ = x.(map[string]any)
	}
	return out
}

func TestPackageBindingConversion(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", "/api/v1/namespaces/_/packages/p", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/packages/q", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/packages/b", `{"binding":{"namespace":"_","name":"p"}}`)
	t.Run("a package cannot become a binding", func(t *testing.T) {
		wantError(t, e.guest("PUT", "/api/v1/namespaces/_/packages/q?overwrite=true", `{"binding":{"namespace":"_","name":"p"}}`),
			409, "Resource is a package and cannot be converted into a binding.")
	})
	t.Run("a binding may be rebound", func(t *testing.T) {
		b := e.must("PUT", "/api/v1/namespaces/_/packages/b?overwrite=true", `{"binding":{"namespace":"guest","name":"q"}}`).object(t)
		if bnd := b["binding"].(map[string]any); bnd["name"] != "q" || bnd["namespace"] != "guest" {
			t.Errorf("binding %v", bnd)
		}
		if b["version"] != "0.0.2" {
			t.Errorf("version %v", b["version"])
		}
	})
	t.Run("an update without binding keeps it", func(t *testing.T) {
		b := e.must("PUT", "/api/v1/namespaces/_/packages/b?overwrite=true", `{"parameters":[{"key":"x","value":1}]}`).object(t)
		if bnd, _ := b["binding"].(map[string]any); bnd["name"] != "q" {
			t.Errorf("binding %v", b["binding"])
		}
	})
}

func TestPublishedPackages(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", "/api/v1/namespaces/_/packages/pub", `{"publish":true,"parameters":[{"key":"k","value":"v"}]}`)
	e.must("PUT", "/api/v1/namespaces/_/actions/pub/a", nodeCode)
	e.must("PUT", "/api/v1/namespaces/_/packages/priv", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/actions/priv/b", nodeCode)
	e.must("PUT", "/api/v1/namespaces/_/actions/top", nodeCode)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t", `{}`)

	// Another namespace's private entities are answered as missing ones.
	const notFound = "The requested resource does not exist."
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"published package", "GET", "/api/v1/namespaces/guest/packages/pub", "", 200},
		{"action of a published package", "GET", "/api/v1/namespaces/guest/actions/pub/a", "", 200},
		{"actions of a published package", "GET", "/api/v1/namespaces/guest/actions/pub/", "", 200},
		{"private package", "GET", "/api/v1/namespaces/guest/packages/priv", "", 404},
		{"action of a private package", "GET", "/api/v1/namespaces/guest/actions/priv/b", "", 404},
		{"actions of a private package", "GET", "/api/v1/namespaces/guest/actions/priv/", "", 404},
		{"missing package looks like a private one", "GET", "/api/v1/namespaces/guest/packages/nothing", "", 404},
		{"action outside packages", "GET", "/api/v1/namespaces/guest/actions/top", "", 404},
		{"action list", "GET", "/api/v1/namespaces/guest/actions", "", 404},
		{"trigger", "GET", "/api/v1/namespaces/guest/triggers/t", "", 404},
		{"trigger list", "GET", "/api/v1/namespaces/guest/triggers", "", 404},
		{"rule list", "GET", "/api/v1/namespaces/guest/rules", "", 404},
		{"activation list", "GET", "/api/v1/namespaces/guest/activations", "", 404},
		{"limits", "GET", "/api/v1/namespaces/guest/limits", "", 404},
		{"create an action", "PUT", "/api/v1/namespaces/guest/actions/x", nodeCode, 404},
		{"update an action of a published package", "PUT", "/api/v1/namespaces/guest/actions/pub/a?overwrite=true", nodeCode, 404},
		{"delete a published package", "DELETE", "/api/v1/namespaces/guest/packages/pub", "", 404},
		{"delete an action", "DELETE", "/api/v1/namespaces/guest/actions/top", "", 404},
		{"create a trigger", "PUT", "/api/v1/namespaces/guest/triggers/x", `{}`, 404},
		{"create a rule", "PUT", "/api/v1/namespaces/guest/rules/x", `{"trigger":"/guest/t","action":"/guest/top"}`, 404},
		{"bind to a private package", "PUT", "/api/v1/namespaces/_/packages/b1", `{"binding":{"namespace":"guest","name":"priv"}}`, 404},
		{"bind to a missing package of another namespace", "PUT", "/api/v1/namespaces/_/packages/b2", `{"binding":{"namespace":"guest","name":"nothing"}}`, 404},
		{"bind to a published package", "PUT", "/api/v1/namespaces/_/packages/b3", `{"binding":{"namespace":"guest","name":"pub"},"parameters":[{"key":"k","value":"mine"}]}`, 200},
		{"action through a binding to a published package", "GET", "/api/v1/namespaces/_/actions/b3/a", "", 200},
		{"rule on an action of another namespace's private package", "PUT", "/api/v1/namespaces/_/rules/r",
			`{"trigger":"/_/ot","action":"/guest/priv/b"}`, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "rule on an action of another namespace's private package" {
				if r := e.do("PUT", "/api/v1/namespaces/_/triggers/ot", e.otherAuth, `{}`); r.status != 200 {
					t.Fatalf("create trigger: %d %s", r.status, r.body)
				}
			}
			r := e.do(tc.method, tc.path, e.otherAuth, tc.body)
			if tc.status == 404 {
				wantError(t, r, 404, notFound)
			} else if r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
	t.Run("package list of another namespace shows only published packages", func(t *testing.T) {
		r := e.do("GET", "/api/v1/namespaces/guest/packages", e.otherAuth, "")
		if got := names(r.list(t)); !slices.Equal(got, []string{"pub"}) {
			t.Errorf("packages %v, want [pub]", got)
		}
	})
	t.Run("binding parameters override the published package's", func(t *testing.T) {
		r := e.do("GET", "/api/v1/namespaces/_/actions/b3/a", e.otherAuth, "")
		a := r.object(t)
		if p := params(t, a, "parameters"); p["k"] != "mine" {
			t.Errorf("parameters %v", p)
		}
		if ann := params(t, a, "annotations"); ann["binding"] != "other/b3" {
			t.Errorf("binding annotation %v", ann["binding"])
		}
	})
	t.Run("guest's own view is unchanged", func(t *testing.T) {
		if got := names(e.must("GET", "/api/v1/namespaces/guest/packages", "").list(t)); !slices.Equal(got, []string{"priv", "pub"}) {
			t.Errorf("packages %v", got)
		}
	})
}

func TestRules(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", "/api/v1/namespaces/_/actions/a", nodeCode)
	e.must("PUT", "/api/v1/namespaces/_/actions/b", nodeCode)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t1", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t2", `{}`)

	t.Run("names as {path, name} objects", func(t *testing.T) {
		r := e.must("PUT", "/api/v1/namespaces/_/rules/r", `{"trigger":{"path":"guest","name":"t1"},"action":{"path":"_","name":"a"}}`).object(t)
		if r["status"] != "active" {
			t.Errorf("status %v", r["status"])
		}
		if act := r["action"].(map[string]any); act["path"] != "guest" || act["name"] != "a" {
			t.Errorf("action %v", act)
		}
	})
	t.Run("update keeps the status and moves the rule between triggers", func(t *testing.T) {
		e.must("POST", "/api/v1/namespaces/_/rules/r", `{"status":"inactive"}`)
		r := e.must("PUT", "/api/v1/namespaces/_/rules/r?overwrite=true", `{"trigger":"/_/t2","action":"b"}`).object(t)
		if r["status"] != "inactive" || r["version"] != "0.0.2" {
			t.Errorf("status %v version %v", r["status"], r["version"])
		}
		t1 := e.must("GET", "/api/v1/namespaces/_/triggers/t1", "").object(t)
		if rs, _ := t1["rules"].(map[string]any); len(rs) != 0 {
			t.Errorf("t1 rules %v", rs)
		}
		t2 := e.must("GET", "/api/v1/namespaces/_/triggers/t2", "").object(t)
		link, _ := t2["rules"].(map[string]any)["guest/r"].(map[string]any)
		if link["status"] != "inactive" || link["action"].(map[string]any)["name"] != "b" {
			t.Errorf("t2 rules %v", t2["rules"])
		}
	})
	t.Run("a rule whose trigger is gone is inactive and cannot be enabled", func(t *testing.T) {
		e.must("POST", "/api/v1/namespaces/_/rules/r", `{"status":"active"}`)
		e.must("DELETE", "/api/v1/namespaces/_/triggers/t2", "")
		if st := e.must("GET", "/api/v1/namespaces/_/rules/r", "").object(t)["status"]; st != "inactive" {
			t.Errorf("status %v", st)
		}
		wantError(t, e.guest("POST", "/api/v1/namespaces/_/rules/r", `{"status":"active"}`), 404,
			"Only rules with existing triggers can be activated")
		e.must("POST", "/api/v1/namespaces/_/rules/r", `{"status":"inactive"}`)
		e.must("DELETE", "/api/v1/namespaces/_/rules/r", "")
	})
	t.Run("rule list shows status", func(t *testing.T) {
		e.must("PUT", "/api/v1/namespaces/_/rules/r1", `{"trigger":"/_/t1","action":"/_/a"}`)
		e.must("PUT", "/api/v1/namespaces/_/rules/r2", `{"trigger":"/_/t1","action":"/_/b"}`)
		e.must("POST", "/api/v1/namespaces/_/rules/r1", `{"status":"inactive"}`)
		l := e.must("GET", "/api/v1/namespaces/_/rules?limit=30&skip=0", "").list(t)
		got := map[string]any{}
		for _, r := range l {
			got[r["name"].(string)] = r["status"]
		}
		if got["r1"] != "inactive" || got["r2"] != "active" || len(got) != 2 {
			t.Errorf("statuses %v", got)
		}
		if c := e.must("GET", "/api/v1/namespaces/_/rules?count=true", "").object(t); c["rules"] != 2.0 {
			t.Errorf("count %v", c)
		}
	})
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		e.must("PUT", "/api/v1/namespaces/_/triggers/"+n, `{}`)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"d", "c", "b", "a"}},
		{"?limit=2", []string{"d", "c"}},
		{"?limit=2&skip=1", []string{"c", "b"}},
		{"?limit=0&skip=3", []string{"a"}},
		{"?skip=9", []string{}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			if got := names(e.must("GET", "/api/v1/namespaces/_/triggers"+tc.query, "").list(t)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("count", func(t *testing.T) {
		if got := string(e.must("GET", "/api/v1/namespaces/_/triggers?count=true", "").body); got != `{"triggers":4}` {
			t.Errorf("got %s", got)
		}
	})
}

func TestLimitsAndNamespaces(t *testing.T) {
	e, _ := newThrottledEnv(t, openWhiskDefaults)
	for _, path := range []string{"/api/v1/namespaces/_/limits", "/api/v1/namespaces/guest/limits"} {
		golden(t, "limits", e.must("GET", path, "").body)
	}
	r := e.do("GET", "/api/v1/namespaces", e.otherAuth, "")
	if string(r.body) != `["other"]` {
		t.Errorf("other's namespaces %s", r.body)
	}
	r = e.do("GET", "/api/v1/namespaces/_/limits", e.otherAuth, "")
	if r.status != 200 {
		t.Errorf("other's limits: %d", r.status)
	}
}

func TestCORSAndInfo(t *testing.T) {
	e := newEnv(t)
	wantCORS := func(t *testing.T, r response) {
		t.Helper()
		for k, v := range map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET, DELETE, POST, PUT, HEAD",
			"Access-Control-Allow-Headers": "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
		} {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
	}
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
	}{
		{"OPTIONS needs no auth", "OPTIONS", "/api/v1/namespaces/_/actions/x", "", 200},
		{"OPTIONS of the collection", "OPTIONS", "/api/v1/namespaces/_/actions", "", 200},
		{"success", "GET", "/api/v1/namespaces/_/actions", guestAuth, 200},
		{"error", "GET", "/api/v1/namespaces/_/actions/missing", guestAuth, 404},
		{"unauthenticated", "GET", "/api/v1/namespaces/_/actions", "", 401},
		{"info", "GET", "/api/v1", "", 200},
		{"info with slash", "GET", "/api/v1/", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.auth, "")
			if r.status != tc.status {
				t.Errorf("status %d, want %d", r.status, tc.status)
			}
			wantCORS(t, r)
		})
	}
	t.Run("info body", func(t *testing.T) {
		var info map[string]any
		if err := json.Unmarshal(e.do("GET", "/api/v1", "", "").body, &info); err != nil {
			t.Fatal(err)
		}
		if info["api_version_path"] != "v1" || info["description"] != "OpenWhisk API" || info["build"] != "test" {
			t.Errorf("info %v", info)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		wantError(t, e.guest("GET", "/api/v1/nothing/here", ""), 404, "The requested resource does not exist.")
		if r := e.guest("GET", "/api/v1/namespaces/_/actions/a/b/c", ""); r.status != 404 {
			t.Errorf("three-part action name: %d", r.status)
		}
	})
	t.Run("transaction id header", func(t *testing.T) {
		r := e.guest("GET", "/api/v1/namespaces/_/actions/missing", "")
		var body map[string]string
		_ = json.Unmarshal(r.body, &body)
		if id := r.header.Get("X-Request-ID"); id == "" || id != body["code"] {
			t.Errorf("X-Request-ID %q, error code %q", id, body["code"])
		}
		if !strings.Contains(string(r.body), `"code"`) {
			t.Errorf("body %s", r.body)
		}
	})
}
