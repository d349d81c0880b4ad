package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const malformed = "The request content was malformed:\n"

// TestBadInput sends requests OpenWhisk rejects and checks each answer's
// status and {"error", "code"} body.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", "/api/v1/namespaces/_/actions/a", nodeCode)
	e.must("PUT", "/api/v1/namespaces/_/actions/s1", `{"exec":{"kind":"sequence","components":["/_/a"]}}`)
	e.must("PUT", "/api/v1/namespaces/_/actions/s2", `{"exec":{"kind":"sequence","components":["/_/s1"]}}`)
	e.must("PUT", "/api/v1/namespaces/_/packages/p", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/packages/b", `{"binding":{"namespace":"_","name":"p"}}`)
	e.must("PUT", "/api/v1/namespaces/_/triggers/t", `{}`)
	e.must("PUT", "/api/v1/namespaces/_/rules/r", `{"trigger":"/_/t","action":"/_/a"}`)

	long := strings.Repeat("n", 257)
	const (
		actions  = "/api/v1/namespaces/_/actions/"
		packages = "/api/v1/namespaces/_/packages/"
		triggers = "/api/v1/namespaces/_/triggers/"
		rules    = "/api/v1/namespaces/_/rules/"
	)
	limitMsg := func(what string) string {
		return malformed + "requirement failed: " + what
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		// Bodies that are not one JSON object.
		{"malformed JSON", "PUT", actions + "x", `{"exec":`, 400, malformed + "the JSON ends early"},
		{"JSON syntax error", "PUT", actions + "x", `{"exec" 1}`, 400, malformed + "invalid JSON at byte 9: invalid character '1' after object key"},
		{"trailing data", "PUT", actions + "x", nodeCode + `{}`, 400, malformed + "unexpected data after the JSON object"},
		{"top-level array", "PUT", actions + "x", `[` + nodeCode + `]`, 400, malformed + "expected a JSON object"},
		{"top-level string", "PUT", triggers + "x", `"trigger"`, 400, malformed + "expected a JSON object"},
		{"top-level number", "PUT", packages + "x", `42`, 400, malformed + "expected a JSON object"},
		{"top-level null", "PUT", rules + "x", `null`, 400, malformed + "expected a JSON object"},
		{"empty action body", "PUT", actions + "x", ``, 400, malformed + "exec undefined"},
		{"empty rule body", "PUT", rules + "x", ``, 400, "rule requires a valid trigger and a valid action"},
		{"empty status body", "POST", rules + "r", ``, 400, malformed + "status must be 'active' or 'inactive'"},

		// Wrong field types.
		{"code not a string", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":42}}`, 400, malformed + "field 'exec.code' must be a string, not number"},
		{"exec not an object", "PUT", actions + "x", `{"exec":"nodejs"}`, 400, malformed + "field 'exec' must be an object, not string"},
		{"exec without kind", "PUT", actions + "x", `{"exec":{"code":"x"}}`, 400, malformed + "exec: kind is required"},
		{"parameters not a list", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"parameters":{"a":1}}`, 400, malformed + "field 'parameters' must be an array, not object"},
		{"parameter key not a string", "PUT", triggers + "x", `{"parameters":[{"key":1,"value":2}]}`, 400, malformed + "field 'parameters.key' must be a string, not number"},
		{"parameter without value", "PUT", triggers + "x", `{"parameters":[{"key":"k"}]}`, 400, malformed + "parameters key 'k' has no value"},
		{"parameter with empty key", "PUT", packages + "x", `{"parameters":[{"key":"","value":1}]}`, 400, malformed + "parameters must have non-empty keys"},
		{"duplicate parameter", "PUT", packages + "x", `{"parameters":[{"key":"k","value":1},{"key":"k","value":2}]}`, 400, malformed + "parameters key 'k' is given more than once"},
		{"duplicate annotation", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"annotations":[{"key":"k","value":1},{"key":"k","value":2}]}`, 400, malformed + "annotations key 'k' is given more than once"},
		{"limit not a number", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":"256"}}`, 400, malformed + "field 'limits.memory' must be an integer, not string"},
		{"fractional limit", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":256.5}}`, 400, malformed + "field 'limits.memory' must be an integer, not number 256.5"},
		{"huge limit", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"timeout":99999999999999999999999}}`, 400, malformed + "field 'limits.timeout' must be an integer, not number 99999999999999999999999"},
		{"huge exponent", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"timeout":1e400}}`, 400, malformed + "field 'limits.timeout' must be an integer, not number 1e400"},
		{"publish not a boolean", "PUT", packages + "x", `{"publish":"true"}`, 400, malformed + "field 'publish' must be a boolean, not string"},
		{"binding not an object", "PUT", packages + "x", `{"binding":"p"}`, 400, malformed + "field 'binding' must be an object, not string"},
		{"components not strings", "PUT", actions + "x", `{"exec":{"kind":"sequence","components":[1]}}`, 400, malformed + "field 'exec.components' must be a string, not number"},
		{"rule trigger a number", "PUT", rules + "x", `{"trigger":1,"action":"/_/a"}`, 400, malformed + "expected a fully qualified name or {path, name}"},
		{"rule status a number", "POST", rules + "r", `{"status":1}`, 400, malformed + "field 'status' must be a string, not number"},
		{"delAnnotations not strings", "PUT", actions + "a?overwrite=true", `{"delAnnotations":[1]}`, 400, malformed + "field 'delAnnotations' must be a string, not number"},

		// Names.
		{"action name with a bad character", "PUT", actions + "a$b", nodeCode, 400, "The name of the entity contains illegal characters."},
		{"action name starting with a dash", "PUT", actions + "-a", nodeCode, 400, "The name of the entity contains illegal characters."},
		{"action name ending with a space", "PUT", actions + "a%20", nodeCode, 400, "The name of the entity contains illegal characters."},
		{"unicode action name", "PUT", actions + "h%C3%A9llo", nodeCode, 400, "The name of the entity contains illegal characters."},
		{"unicode package name", "PUT", packages + "%E2%9C%93", `{}`, 400, "The name of the entity contains illegal characters."},
		{"unicode trigger name", "PUT", triggers + "%F0%9F%94%A5", `{}`, 400, "The name of the entity contains illegal characters."},
		{"long action name", "PUT", actions + long, nodeCode, 400, "Entity name longer than allowed: 257 > 256."},
		{"long package name", "PUT", packages + long, `{}`, 400, "Entity name longer than allowed: 257 > 256."},
		{"long trigger name", "PUT", triggers + long, `{}`, 400, "Entity name longer than allowed: 257 > 256."},
		{"long rule name", "PUT", rules + long, `{}`, 400, "Entity name longer than allowed: 257 > 256."},
		{"long package part", "PUT", actions + long + "/a", nodeCode, 400, "Entity name longer than allowed: 257 > 256."},
		{"bad namespace", "GET", "/api/v1/namespaces/b%24d/actions/a", "", 400, "The namespace contains illegal characters."},
		{"long namespace", "GET", "/api/v1/namespaces/" + long + "/packages", "", 400, "The namespace contains illegal characters."},
		{"package named default", "PUT", packages + "default", `{}`, 400, "Package name 'default' is reserved."},
		{"binding named default", "PUT", packages + "default", `{"binding":{"namespace":"_","name":"p"}}`, 400, "Package name 'default' is reserved."},

		// Kinds and exec.
		{"unknown kind", "PUT", actions + "x", `{"exec":{"kind":"cobol:85","code":"x"}}`, 400, malformed + "kind 'cobol:85' is not supported; supported kinds are native, nodejs:20 (or nodejs:default), python:3 (or python:default), blackbox and sequence."},
		{"unknown family default", "PUT", actions + "x", `{"exec":{"kind":"cobol:default","code":"x"}}`, 400, malformed + "kind 'cobol:default' is not supported; supported kinds are native, nodejs:20 (or nodejs:default), python:3 (or python:default), blackbox and sequence."},
		{"deprecated kind", "PUT", actions + "x", `{"exec":{"kind":"nodejs:6","code":"x"}}`, 400, "The 'nodejs:6' runtime is no longer supported: use nodejs:20 (or nodejs:default). An action of this kind may be read and deleted but not updated or invoked."},
		{"kind without a version", "PUT", actions + "x", `{"exec":{"kind":"nodejs","code":"x"}}`, 400, malformed + "kind 'nodejs' needs a version: use nodejs:20 (or nodejs:default)."},
		{"deprecated kind on update", "PUT", actions + "a?overwrite=true", `{"exec":{"kind":"python:2","code":"x"}}`, 400, "The 'python:2' runtime is no longer supported: use python:3 (or python:default). An action of this kind may be read and deleted but not updated or invoked."},
		{"code kind without code", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20"}}`, 400, malformed + "exec of kind 'nodejs:20' requires code"},
		{"blackbox without image", "PUT", actions + "x", `{"exec":{"kind":"blackbox"}}`, 400, malformed + "exec of kind 'blackbox' requires an image"},
		{"blackbox image that is a flag", "PUT", actions + "x", `{"exec":{"kind":"blackbox","image":"--privileged"}}`, 400,
			malformed + `exec of kind 'blackbox': the image "--privileged" is not a Docker image reference such as 'user/image:tag' (invalid reference format)`},
		{"blackbox image in upper case", "PUT", actions + "x", `{"exec":{"kind":"blackbox","image":"User/Img"}}`, 400,
			malformed + `exec of kind 'blackbox': the image "User/Img" is not a Docker image reference such as 'user/image:tag' (invalid reference format: repository name (Img) must be lowercase)`},

		// Limits, each bound.
		{"timeout too small", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"timeout":99}}`, 400, limitMsg("timeout 99 ms below allowed threshold of 100 ms or above allowed threshold of 300000 ms")},
		{"timeout too large", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"timeout":300001}}`, 400, limitMsg("timeout 300001 ms below allowed threshold of 100 ms or above allowed threshold of 300000 ms")},
		{"memory too small", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":127}}`, 400, limitMsg("memory 127 MB below allowed threshold of 128 MB or above allowed threshold of 512 MB")},
		{"memory too large", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":513}}`, 400, limitMsg("memory 513 MB below allowed threshold of 128 MB or above allowed threshold of 512 MB")},
		{"logs negative", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"logs":-1}}`, 400, limitMsg("log size -1 MB below allowed threshold of 0 MB or above allowed threshold of 10 MB")},
		{"logs too large", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"logs":11}}`, 400, limitMsg("log size 11 MB below allowed threshold of 0 MB or above allowed threshold of 10 MB")},
		{"concurrency zero", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"concurrency":0}}`, 400, limitMsg("concurrency 0 below allowed threshold of 1 or above allowed threshold of 500")},
		{"concurrency too large", "PUT", actions + "x", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"concurrency":501}}`, 400, limitMsg("concurrency 501 below allowed threshold of 1 or above allowed threshold of 500")},
		{"limit out of range on update", "PUT", actions + "a?overwrite=true", `{"limits":{"memory":1024}}`, 400, limitMsg("memory 1024 MB below allowed threshold of 128 MB or above allowed threshold of 512 MB")},

		// Sequences.
		{"sequence without components", "PUT", actions + "x", `{"exec":{"kind":"sequence","components":[]}}`, 400, "No component specified for the sequence."},
		{"sequence with a missing component", "PUT", actions + "x", `{"exec":{"kind":"sequence","components":["/_/a","/_/nothing"]}}`, 400, "Sequence component does not exist: /guest/nothing."},
		{"sequence with a bad component name", "PUT", actions + "x", `{"exec":{"kind":"sequence","components":["/_/a$"]}}`, 400, "The name of the entity contains illegal characters."},
		{"sequence that contains itself", "PUT", actions + "s1?overwrite=true", `{"exec":{"kind":"sequence","components":["/_/a","/_/s1"]}}`, 400, "Sequence may not refer to itself."},
		{"sequence cycle through another", "PUT", actions + "s1?overwrite=true", `{"exec":{"kind":"sequence","components":["/_/s2"]}}`, 400, "Sequence may not refer to itself."},
		{"sequence too long", "PUT", actions + "x", `{"exec":{"kind":"sequence","components":[` + strings.Repeat(`"/_/a",`, 50) + `"/_/a"]}}`, 400, "Too many actions in the sequence."},
		{"sequence of 50 atomic actions through nesting", "PUT", actions + "fifty", `{"exec":{"kind":"sequence","components":[` + strings.Repeat(`"/_/a",`, 49) + `"/_/s2"]}}`, 200, ""},
		{"sequence of another namespace's action", "PUT", actions + "y", `{"exec":{"kind":"sequence","components":["/other/a"]}}`, 404, "The requested resource does not exist."},

		// Existing entities.
		{"action exists", "PUT", actions + "a?overwrite=false", nodeCode, 409, "resource already exists"},
		{"action exists, no overwrite", "PUT", actions + "a", nodeCode, 409, "resource already exists"},
		{"package exists", "PUT", packages + "p", `{}`, 409, "resource already exists"},
		{"trigger exists", "PUT", triggers + "t?overwrite=false", `{}`, 409, "resource already exists"},
		{"rule exists", "PUT", rules + "r?overwrite=false", `{"trigger":"/_/t","action":"/_/a"}`, 409, "resource already exists"},
		{"overwrite not a boolean", "PUT", actions + "a?overwrite=yes", nodeCode, 400, "The value 'yes' of parameter 'overwrite' is not a boolean."},

		// Rules.
		{"rule with a missing trigger", "PUT", rules + "x", `{"trigger":"/_/x","action":"/_/a"}`, 400, "trigger /guest/x does not exist"},
		{"rule with a missing action", "PUT", rules + "x", `{"trigger":"/_/t","action":"/_/x"}`, 400, "action /guest/x does not exist"},
		{"rule without action", "PUT", rules + "x", `{"trigger":"/_/t"}`, 400, "rule requires a valid trigger and a valid action"},
		{"rule with a packaged trigger", "PUT", rules + "x", `{"trigger":"/_/p/t","action":"/_/a"}`, 400, "rule requires a valid trigger and a valid action"},
		{"rule with a bad trigger name", "PUT", rules + "x", `{"trigger":"/_/t$","action":"/_/a"}`, 400, "The name of the entity contains illegal characters."},
		{"rule with a one-part absolute name", "PUT", rules + "x", `{"trigger":"/t","action":"/_/a"}`, 400, "The fully qualified name of the entity must contain at least the namespace and the name of the entity."},
		{"rule with another namespace's trigger", "PUT", rules + "x", `{"trigger":"/other/t","action":"/_/a"}`, 404, "The requested resource does not exist."},
		{"rule status unknown", "POST", rules + "r", `{"status":"paused"}`, 400, malformed + "status must be 'active' or 'inactive'"},
		{"status of a missing rule", "POST", rules + "nothing", `{"status":"active"}`, 404, "The requested resource does not exist."},

		// Packages.
		{"binding of a binding", "PUT", packages + "x", `{"binding":{"namespace":"_","name":"b"}}`, 400, "Cannot bind to another package binding."},
		{"binding to a missing package", "PUT", packages + "x", `{"binding":{"namespace":"_","name":"nothing"}}`, 400, "Binding references a package that does not exist."},
		{"binding with a bad name", "PUT", packages + "x", `{"binding":{"namespace":"_","name":"a$"}}`, 400, "The name of the entity contains illegal characters."},
		{"binding with a bad namespace", "PUT", packages + "x", `{"binding":{"namespace":"a$","name":"p"}}`, 400, "The namespace contains illegal characters."},

		// Triggers.
		{"trigger with a bad feed name", "PUT", triggers + "x", `{"annotations":[{"key":"feed","value":"not//valid"}]}`, 400, malformed + "feed name 'not//valid' is not valid"},

		// Lists and missing entities.
		{"list limit too large", "GET", "/api/v1/namespaces/_/actions?limit=201", "", 400, "The value '201' is not in the range of 0 to 200 for actions."},
		{"list limit negative", "GET", "/api/v1/namespaces/_/packages?limit=-1", "", 400, "The value '-1' is not in the range of 0 to 200 for packages."},
		{"list skip not a number", "GET", "/api/v1/namespaces/_/triggers?skip=x", "", 400, "The value 'x' is not an integer for triggers."},
		{"list count not a boolean", "GET", "/api/v1/namespaces/_/rules?count=1", "", 400, "The value '1' of parameter 'count' is not a boolean."},
		{"delete a missing action", "DELETE", actions + "nothing", "", 404, "The requested resource does not exist."},
		{"delete a missing package", "DELETE", packages + "nothing", "", 404, "The requested resource does not exist."},
		{"delete a missing trigger", "DELETE", triggers + "nothing", "", 404, "The requested resource does not exist."},
		{"delete a missing rule", "DELETE", rules + "nothing", "", 404, "The requested resource does not exist."},
		{"get a missing package", "GET", packages + "nothing", "", 404, "The requested resource does not exist."},
		{"get a missing trigger", "GET", triggers + "nothing", "", 404, "The requested resource does not exist."},
		{"get a missing rule", "GET", rules + "nothing", "", 404, "The requested resource does not exist."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.guest(tc.method, tc.path, tc.body)
			if tc.status == 200 {
				if r.status != 200 {
					t.Errorf("status %d: %s", r.status, r.body)
				}
				return
			}
			wantError(t, r, tc.status, tc.msg)
		})
	}
	t.Run("rejected requests changed nothing", func(t *testing.T) {
		a := e.must("GET", actions+"a", "").object(t)
		if a["version"] != "0.0.1" {
			t.Errorf("action a at version %v after rejected updates", a["version"])
		}
		s1 := e.must("GET", actions+"s1", "").object(t)
		if c := s1["exec"].(map[string]any)["components"]; len(c.([]any)) != 1 {
			t.Errorf("s1 components %v", c)
		}
		for _, path := range []string{actions + "x", packages + "x", triggers + "x", rules + "x", packages + "default"} {
			if r := e.guest("GET", path, ""); r.status != 404 {
				t.Errorf("GET %s: %d, want 404", path, r.status)
			}
		}
	})
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	const msg = "The supplied authentication is invalid."
	wrongKey := "Basic MjNiYzQ2YjEtNzFmNi00ZWQ1LThjNTQtODE2YWE0ZjhjNTAyOndyb25n" // right uuid, key "wrong"
	for _, tc := range []struct{ name, auth string }{
		{"missing", ""},
		{"wrong key", wrongKey},
		{"unknown uuid", "Basic dW5rbm93bjprZXk="},
		{"not base64", "Basic !!!"},
		{"no colon", "Basic Z3Vlc3Q="},
		{"bearer", "Bearer 23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
		{"uuid with subject characters", "Basic Z3Vlc3QuKj46a2V5"}, // guest.*>:key
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/namespaces", "/api/v1/namespaces/_/actions", "/api/v1/namespaces/_/actions/a"} {
				r := e.do("GET", path, tc.auth, "")
				wantError(t, r, http.StatusUnauthorized, msg)
				if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="OpenWhisk secure realm"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
			}
			wantError(t, e.do("PUT", "/api/v1/namespaces/_/actions/a", tc.auth, nodeCode), http.StatusUnauthorized, msg)
		})
	}
	t.Run("nothing was created", func(t *testing.T) {
		wantError(t, e.guest("GET", "/api/v1/namespaces/_/actions/a", ""), 404, "The requested resource does not exist.")
	})
	t.Run("only admins create namespaces", func(t *testing.T) {
		wantError(t, e.guest("PUT", "/api/v1/namespaces/newns", ""), 403, "The supplied authentication is not authorized to access this resource.")
	})
}

// TestBodyLimits sends bodies over OpenWhisk's limits: 1 MB for every
// entity but actions, whose code may reach 48 MB.
func TestBodyLimits(t *testing.T) {
	e := newEnv(t)
	mb := 1 << 20
	big := func(n int) string {
		return `{"parameters":[{"key":"k","value":"` + strings.Repeat("x", n) + `"}]}`
	}
	// hideLength makes the request's length unknown, as with chunked bodies.
	hideLength := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }
	for _, tc := range []struct {
		name, path string
		body       io.Reader
		status     int
		msg        string
	}{
		{"package", "/api/v1/namespaces/_/packages/x", strings.NewReader(big(mb)), 413, "Request larger than allowed: 1048615 > 1048576 bytes."},
		{"trigger", "/api/v1/namespaces/_/triggers/x", strings.NewReader(big(mb)), 413, "Request larger than allowed: 1048615 > 1048576 bytes."},
		{"rule", "/api/v1/namespaces/_/rules/x", strings.NewReader(big(mb)), 413, "Request larger than allowed: 1048615 > 1048576 bytes."},
		{"trigger, length unknown", "/api/v1/namespaces/_/triggers/x", hideLength(big(mb)), 413, "Request larger than allowed: more than 1048576 bytes."},
		{"trigger just under", "/api/v1/namespaces/_/triggers/y", strings.NewReader(big(mb - 200)), 200, ""},
		{"action parameters over 1 MB", "/api/v1/namespaces/_/actions/x",
			strings.NewReader(`{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"k","value":"` + strings.Repeat("x", mb) + `"}]}`),
			413, "parameters larger than allowed: 1048579 > 1048576 bytes."},
		{"action code over 48 MB", "/api/v1/namespaces/_/actions/x",
			strings.NewReader(`{"exec":{"kind":"nodejs:20","code":"` + strings.Repeat("x", 48<<20+1) + `"}}`),
			413, "exec larger than allowed: 50331649 > 50331648 bytes."},
		{"action body over the action limit", "/api/v1/namespaces/_/actions/x",
			bytes.NewReader(make([]byte, 48<<20*4/3+mb+1)), 413, ""},
		{"action annotations over 1 MB", "/api/v1/namespaces/_/actions/x",
			strings.NewReader(`{"exec":{"kind":"nodejs:20","code":"x"},"annotations":[{"key":"k","value":"` + strings.Repeat("x", mb) + `"}]}`),
			413, "annotations larger than allowed: 1048579 > 1048576 bytes."},
		{"action annotations of 10 MB", "/api/v1/namespaces/_/actions/x",
			strings.NewReader(`{"exec":{"kind":"nodejs:20","code":"x"},"annotations":[{"key":"k","value":"` + strings.Repeat("x", 10*mb) + `"}]}`),
			413, "Request larger than allowed: 10485838 > 4194304 bytes, not counting the code."},
		{"blackbox image of 10 MB", "/api/v1/namespaces/_/actions/x",
			strings.NewReader(`{"exec":{"kind":"blackbox","image":"` + strings.Repeat("x", 10*mb) + `"}}`),
			413, "Request larger than allowed: 10485799 > 4194304 bytes, not counting the code."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("PUT", tc.path, tc.body)
			r := e.serve(req)
			if tc.status == 200 {
				if r.status != 200 {
					t.Errorf("status %d: %.300s", r.status, r.body)
				}
				return
			}
			wantError(t, r, tc.status, tc.msg)
		})
	}
}
