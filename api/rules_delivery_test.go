package api_test

import (
	"net/http"
	"testing"
)

func TestRuleDeliveryPut(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", "/api/v1/namespaces/_/actions/hello", bodyHello)
	e.must("PUT", "/api/v1/namespaces/_/triggers/mytrigger", bodyTrigger)
	e.must("PUT", "/api/v1/namespaces/_/triggers/failed", bodyTrigger)

	t.Run("invalid policies are 400s that name the problem", func(t *testing.T) {
		const start = "The request content was malformed:\ninvalid delivery policy: "
		for _, tc := range []struct{ name, delivery, msg string }{
			{"too many retries", `{"retries":11}`, "retries must be between 0 and 10, not 11"},
			{"negative retries", `{"retries":-1}`, "retries must be between 0 and 10, not -1"},
			{"retries as a string", `{"retries":"3"}`, "field retries must be a JSON number, not a JSON string"},
			{"backoff that is not a duration", `{"retries":3,"backoff":"fast"}`, `backoff must be a duration such as "200ms", above 0 and at most 1m0s, not "fast"`},
			{"backoff above the cap", `{"retries":3,"backoff":"2m"}`, `backoff must be a duration such as "200ms", above 0 and at most 1m0s, not "2m"`},
			{"unknown field", `{"retries":3,"maxRetries":4}`, `unknown field "maxRetries" (want retries, backoff, deadLetter)`},
			{"not an object", `[1]`, "the policy must be a JSON object, not a JSON array"},
			{"deadLetter as a number", `{"deadLetter":1}`, "field deadLetter must be a JSON string, not a JSON number"},
			{"missing dead-letter trigger", `{"deadLetter":"/_/nope"}`, "the dead-letter trigger /guest/nope does not exist"},
			{"dead-letter trigger in another namespace", `{"deadLetter":"/other/failed"}`, "the dead-letter trigger /other/failed must be in the rule's namespace guest"},
			{"dead-letter trigger in a package", `{"deadLetter":"/_/pkg/failed"}`, `deadLetter must name a trigger, such as "/_/failed", not "/_/pkg/failed"`},
			{"the rule's own trigger", `{"deadLetter":"mytrigger"}`, "the dead-letter trigger /guest/mytrigger is the rule's own trigger, which would make a loop"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := `{"trigger":"/_/mytrigger","action":"/_/hello","delivery":` + tc.delivery + `}`
				r := e.guest("PUT", "/api/v1/namespaces/_/rules/bad", body)
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d, body %s", r.status, r.body)
				}
				if m := r.object(t); m["error"] != start+tc.msg {
					t.Errorf("error\n got %q\nwant %q", m["error"], start+tc.msg)
				}
			})
		}
		if r := e.guest("GET", "/api/v1/namespaces/_/rules/bad", ""); r.status != http.StatusNotFound {
			t.Errorf("a rejected rule exists: %d", r.status)
		}
	})

	const policy = `{"retries":3,"backoff":"200ms","deadLetter":"/guest/failed"}`
	checkSettingSteps(t, e, "delivery", []settingStep{
		{"create with the body field", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=false",
			`{"trigger":"/_/mytrigger","action":"/_/hello","delivery":{"retries":3,"backoff":"0.2s","deadLetter":"/_/failed"}}`, policy},
		{"disable keeps it", "POST", "/api/v1/namespaces/_/rules/r", bodyDisable, policy},
		{"enable keeps it", "POST", "/api/v1/namespaces/_/rules/r", `{"status":"active"}`, policy},
		{"update as wsk does keeps it", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=true",
			`{"name":"r","status":"","trigger":"/_/mytrigger","action":"/_/hello"}`, policy},
		{"update with a string annotation", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=true",
			`{"annotations":[{"key":"delivery","value":"{\"retries\":1}"}]}`, `{"retries":1}`},
		{"update with null removes it", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=true", `{"delivery":null}`, ""},
		{"policy again", "PUT", "/api/v1/namespaces/_/rules/r?overwrite=true", `{"delivery":` + policy + `}`, policy},
	})
}
