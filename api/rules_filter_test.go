package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// ruleSetting is a rule's annotation key (such as "filter" or "delivery")
// as GET answers it, and the same field of the link its trigger keeps for
// it; "" when absent.
func ruleSetting(t *testing.T, e *env, rule, trigger, key string) (annotation, link string) {
	t.Helper()
	var r struct {
		Annotations []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(e.must("GET", "/api/v1/namespaces/_/rules/"+rule, "").body, &r); err != nil {
		t.Fatal(err)
	}
	for _, kv := range r.Annotations {
		if kv.Key == key {
			annotation = string(kv.Value)
		}
	}
	var tr struct {
		Rules map[string]map[string]json.RawMessage `json:"rules"`
	}
	if err := json.Unmarshal(e.must("GET", "/api/v1/namespaces/_/triggers/"+trigger, "").body, &tr); err != nil {
		t.Fatal(err)
	}
	return annotation, string(tr.Rules["guest/"+rule][key])
}

// settingStep is a request on rule r and the value of a rule setting
// after it: its annotation and the link's copy ("" for none).
type settingStep struct {
	name, method, path, body string
	want                     string
}

// checkSettingSteps runs steps in order, each a subtest, and checks that
// guest's rule r of trigger mytrigger has setting key as each step wants.
func checkSettingSteps(t *testing.T, e *env, key string, steps []settingStep) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e.must(s.method, s.path, s.body)
			annotation, link := ruleSetting(t, e, "r", "mytrigger", key)
			if annotation != s.want || link != s.want {
				t.Errorf("annotation %s, link %s; want %s", annotation, link, s.want)
			}
		})
	}
}

func TestRuleFilterPut(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", "/api/v1/namespaces/_/actions/hello", bodyHello)
	e.must("PUT", "/api/v1/namespaces/_/triggers/mytrigger", bodyTrigger)

	t.Run("invalid filters are 400s that name the problem", func(t *testing.T) {
		for _, tc := range []struct{ name, body, msg string }{
			{"bad attribute in the annotation",
				`{"trigger":"/_/mytrigger","action":"/_/hello","annotations":[{"key":"filter","value":{"exact":{"Type":"x"}}}]}`,
				"The request content was malformed:\ninvalid filter: exact: attribute name 'Type' is not valid: CloudEvents attribute names are lower-case letters a-z and digits 0-9"},
			{"unknown dialect in the body field",
				`{"trigger":"/_/mytrigger","action":"/_/hello","filter":{"regex":{"type":".*"}}}`,
				"The request content was malformed:\ninvalid filter: unknown dialect 'regex' (want exact, prefix, suffix, all, any, not or sql)"},
			{"empty list",
				`{"trigger":"/_/mytrigger","action":"/_/hello","filter":[]}`,
				"The request content was malformed:\ninvalid filter: empty list of filters"},
			{"nested position",
				`{"trigger":"/_/mytrigger","action":"/_/hello","filter":{"any":[{"exact":{"type":"x"}},{"not":{"prefix":{"data":"x"}}}]}}`,
				"The request content was malformed:\ninvalid filter: any[1].not.prefix: attribute 'data' is not allowed: name a field of JSON data as data.<path>"},
			{"SQL syntax error",
				`{"trigger":"/_/mytrigger","action":"/_/hello","filter":{"sql":"type = 'a' AND"}}`,
				"The request content was malformed:\ninvalid filter: sql: syntax error at column 15: mismatched input '<EOF>' expecting {'(', 'NOT', '-', 'EXISTS', 'TRUE', 'FALSE', DQUOTED_STRING_LITERAL, SQUOTED_STRING_LITERAL, INTEGER_LITERAL, IDENTIFIER, IDENTIFIER_WITH_NUMBER, FUNCTION_IDENTIFIER_WITH_UNDERSCORE} in 'type = 'a' AND'"},
			{"SQL that makes the SDK's parser panic",
				`{"trigger":"/_/mytrigger","action":"/_/hello","filter":{"sql":"(type = 'a'"}}`,
				"The request content was malformed:\ninvalid filter: sql: syntax error at column 12: missing ')' at '<EOF>' in '(type = 'a''"},
			{"SQL that is not a condition",
				`{"trigger":"/_/mytrigger","action":"/_/hello","filter":{"sql":"subject"}}`,
				"The request content was malformed:\ninvalid filter: sql: expression 'subject' is not a condition: it yields a string, not a boolean"},
			{"annotation string that is not JSON",
				`{"trigger":"/_/mytrigger","action":"/_/hello","annotations":[{"key":"filter","value":"type = 'a'"}]}`,
				"The request content was malformed:\ninvalid filter: not JSON: invalid character 'y' in literal true (expecting 'r')"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.guest("PUT", "/api/v1/namespaces/_/rules/bad", tc.body)
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d, body %s", r.status, r.body)
				}
				m := r.object(t)
				if m["error"] != tc.msg {
					t.Errorf("error\n got %q\nwant %q", m["error"], tc.msg)
				}
				if code, _ := m["code"].(string); !transactionIDRule.MatchString(code) {
					t.Errorf("code %q", m["code"])
				}
			})
		}
		if r := e.guest("GET", "/api/v1/namespaces/_/rules/bad", ""); r.status != http.StatusNotFound {
			t.Errorf("a rejected rule exists: %d", r.status)
		}
	})

	const filter = `[{"exact":{"type":"com.github.push"}},{"prefix":{"data.repository.name":"gust"}}]`
	checkSettingSteps(t, e, "filter", []settingStep{
		{"create with the body field", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=false",
			`{"trigger":"/_/mytrigger","action":"/_/hello","filter":[ {"exact":{"type":"com.github.push"}}, {"prefix":{"data.repository.name":"gust"}} ]}`, filter},
		{"disable keeps it", "POST", "/api/v1/namespaces/_/rules/r", bodyDisable, filter},
		{"enable keeps it", "POST", "/api/v1/namespaces/_/rules/r", `{"status":"active"}`, filter},
		{"update as wsk does keeps it", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=true",
			`{"name":"r","status":"","trigger":"/_/mytrigger","action":"/_/hello"}`, filter},
		{"update with the annotation", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=true",
			`{"annotations":[{"key":"filter","value":{"sql":"type LIKE 'com.github.%'"}}]}`, `{"sql":"type LIKE 'com.github.%'"}`},
		{"update with null removes it", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=true", `{"filter":null}`, ""},
		{"filter again", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=true", `{"filter":` + filter + `}`, filter},
	})

	t.Run("the filter survives a restart", func(t *testing.T) {
		dir := e.dir
		e.close()
		e2 := startEnv(t, dir)
		annotation, link := ruleSetting(t, e2, "r", "mytrigger", "filter")
		if annotation != filter || link != filter {
			t.Errorf("after restart: annotation %s, link %s; want %s", annotation, link, filter)
		}
	})
}
