package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
)

// scripted is an Activator that answers each invocation at once with the
// outcome its action's "script" parameter names: "echo" returns the
// parameters, "appError" an application error, "devError" a developer
// error, and "slow" nothing (the blocking wait runs out). It keeps the last
// invocation. The real invoker runs behind the same interface in the
// end-to-end tests (cmd/gust).
type scripted struct {
	mu   sync.Mutex
	last *actions.Invocation
}

func (s *scripted) Activate(_ context.Context, inv *actions.Invocation, wait time.Duration) (*actions.Activation, error) {
	s.mu.Lock()
	s.last = inv
	s.mu.Unlock()
	var script string
	_ = json.Unmarshal(inv.Action.Parameters.Get("script"), &script)
	rec := &actions.Activation{ActivationID: inv.ActivationID, Namespace: inv.Namespace, Name: inv.Action.Name}
	switch script {
	case "slow":
		return nil, nil
	case "appError":
		rec.Response.StatusCode = actions.StatusApplicationError
		rec.Response.Result = json.RawMessage(`{"error":{"statusCode":418,"body":"teapot"}}`)
	case "devError":
		rec.Response.StatusCode = actions.StatusDeveloperError
		rec.Response.Result = json.RawMessage(`{"error":"The action did not produce a valid response and exited unexpectedly."}`)
	default:
		rec.Response.Result = inv.Params()
	}
	return rec, nil
}

func (s *scripted) lastInvocation() *actions.Invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// webAction creates action name (a path under the namespace) with the
// given script and annotations.
func (e *env) webAction(name, script string, annotations ...any) {
	e.t.Helper()
	anns := []map[string]any{}
	for i := 0; i+1 < len(annotations); i += 2 {
		anns = append(anns, map[string]any{"key": annotations[i], "value": annotations[i+1]})
	}
	body, _ := json.Marshal(map[string]any{
		"exec":        map[string]any{"kind": "nodejs:default", "code": "function main(p) { return p; }"},
		"parameters":  []map[string]any{{"key": "script", "value": script}, {"key": "fixed", "value": "set"}},
		"annotations": anns,
	})
	e.must("PUT", "/api/v1/namespaces/_/actions/"+name+"?overwrite=true", string(body))
}

// web sends a request to a web action as it is, with the given headers.
func (e *env) web(method, path, body string, header ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func TestWebActionServer(t *testing.T) {
	act := &scripted{}
	e := newEnv(t, func(c *api.Config) { c.Activator = act })
	e.webAction("echo", "echo", "web-export", true, "final", true)
	e.webAction("private", "echo")
	e.webAction("teapot", "appError", "web-export", true)
	e.webAction("broken", "devError", "web-export", true)
	e.webAction("slow", "slow", "web-export", true)
	e.webAction("secure", "echo", "web-export", true, "require-whisk-auth", true)
	e.webAction("secret", "echo", "web-export", true, "require-whisk-auth", "s3cret")
	e.webAction("custom", "echo", "web-export", true, "web-custom-options", true)
	e.must("PUT", "/api/v1/namespaces/_/packages/pkg", `{}`)
	e.webAction("pkg/inpkg", "echo", "web-export", true)

	params := func(t *testing.T, r response) map[string]any {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		return r.object(t)
	}

	t.Run("GET .json gets query, method, path and headers", func(t *testing.T) {
		r := e.web("GET", "/api/v1/web/guest/default/echo.json/a/b?name=Ada", "", "X-Trace", "t1")
		p := params(t, r)
		hs, _ := p["__ow_headers"].(map[string]any)
		if p["name"] != "Ada" || p["__ow_method"] != "get" || p["__ow_path"] != "/a/b" || hs["x-trace"] != "t1" || p["fixed"] != "set" {
			t.Fatalf("parameters %s", r.body)
		}
		if _, ok := p["__ow_user"]; ok {
			t.Errorf("__ow_user for an anonymous caller")
		}
		if r.header.Get("x-openwhisk-activation-id") != act.lastInvocation().ActivationID {
			t.Errorf("x-openwhisk-activation-id %q", r.header.Get("x-openwhisk-activation-id"))
		}
		if inv := act.lastInvocation(); inv.Namespace != "guest" || inv.APIKey != "" {
			t.Errorf("invocation namespace %q, key %q", inv.Namespace, inv.APIKey)
		}
		if r.header.Get("Access-Control-Allow-Methods") != "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH" {
			t.Errorf("CORS methods %q", r.header.Get("Access-Control-Allow-Methods"))
		}
	})
	t.Run("an action in a package", func(t *testing.T) {
		params(t, e.web("PATCH", "/api/v1/web/guest/pkg/inpkg.json", `{"a":1}`, "Content-Type", "application/json"))
	})
	t.Run("the namespace key gives __ow_user and is hidden from the action", func(t *testing.T) {
		p := params(t, e.web("POST", "/api/v1/web/guest/default/echo.json", "", "Authorization", guestAuth))
		hs, _ := p["__ow_headers"].(map[string]any)
		if p["__ow_user"] != "guest" || hs["authorization"] != nil {
			t.Fatalf("__ow_user %v, headers %v", p["__ow_user"], hs)
		}
	})
	t.Run("final and reserved parameters are named", func(t *testing.T) {
		const final = " The action's parameter 'fixed' is final: its 'final' annotation is true (--web true and --web raw set it), " +
			"so a request may not override the parameters the action or its package defines."
		wantError(t, e.web("GET", "/api/v1/web/guest/default/echo.json?fixed=mine", ""), 400,
			"Request defines parameters that are not allowed (e.g., reserved properties)."+final)
		wantError(t, e.web("GET", "/api/v1/web/guest/default/echo.json?fixed=mine&__ow_user=root&__ow_path=x", ""), 400,
			"Request defines parameters that are not allowed (e.g., reserved properties)."+
				" The parameters '__ow_path', '__ow_user' are reserved: the __ow_ parameters of a web action come from its HTTP request."+final)
	})
	t.Run("an invocation may not override final parameters", func(t *testing.T) {
		const msg = "Request defines parameters that are not allowed (e.g., reserved properties)." +
			" The action's parameters 'fixed', 'script' are final: its 'final' annotation is true (--web true and --web raw set it), " +
			"so a request may not override the parameters the action or its package defines." +
			" Remove 'fixed', 'script' from the request, or let requests override the action's parameters: '%s action update echo -a final false'."
		body := `{"fixed":"mine","script":"x","other":1}`
		wantError(t, e.guest("POST", "/api/v1/namespaces/_/actions/echo?blocking=true", body), 400, fmt.Sprintf(msg, "wsk"))
		r := e.web("POST", "/api/v1/namespaces/_/actions/echo?blocking=true", body,
			"Authorization", guestAuth, "Content-Type", "application/json", "User-Agent", "gust/dev")
		wantError(t, r, 400, fmt.Sprintf(msg, "gust"))
		if r := e.guest("POST", "/api/v1/namespaces/_/actions/echo?blocking=true&result=true", `{"other":1}`); r.status != 200 {
			t.Errorf("parameters that are not final: %d %s", r.status, r.body)
		}
	})
	t.Run("another namespace's shared action names its owner, not a command it cannot run", func(t *testing.T) {
		e.must("PUT", "/api/v1/namespaces/_/packages/shared", `{"publish":true}`)
		e.webAction("shared/fin", "echo", "final", true)
		wantError(t, e.do("POST", "/api/v1/namespaces/guest/actions/shared/fin?blocking=true", e.otherAuth, `{"fixed":"mine"}`), 400,
			"Request defines parameters that are not allowed (e.g., reserved properties)."+
				" The action's parameter 'fixed' is final: its 'final' annotation is true (--web true and --web raw set it), "+
				"so a request may not override the parameters the action or its package defines."+
				" Remove 'fixed' from the request; only namespace guest, which owns the action, can let requests override its parameters.")
	})
	t.Run("not found", func(t *testing.T) {
		for _, p := range []string{"/api/v1/web/guest/default/private", "/api/v1/web/guest/default/nothing.json",
			"/api/v1/web/nobody/default/echo", "/api/v1/web/guest/nopkg/echo", "/api/v1/web/guest/default", "/api/v1/web/gu*st/default/echo"} {
			wantError(t, e.web("GET", p, ""), 404, "The requested resource does not exist.")
		}
	})
	t.Run("method not allowed", func(t *testing.T) {
		r := e.web("TRACE", "/api/v1/web/guest/default/echo", "")
		wantError(t, r, 405, "")
	})
	t.Run("application error is projected", func(t *testing.T) {
		r := e.web("GET", "/api/v1/web/guest/default/teapot", "")
		if r.status != 418 || string(r.body) != "teapot" {
			t.Fatalf("status %d body %q", r.status, r.body)
		}
	})
	t.Run("developer error", func(t *testing.T) {
		wantError(t, e.web("GET", "/api/v1/web/guest/default/broken", ""), 400, "There was an error processing your request.")
	})
	t.Run("wait ran out", func(t *testing.T) {
		r := e.web("GET", "/api/v1/web/guest/default/slow", "")
		wantError(t, r, 202, "Response not yet ready.")
		if r.header.Get("x-openwhisk-activation-id") == "" {
			t.Error("no activation id")
		}
	})
	t.Run("require-whisk-auth true", func(t *testing.T) {
		r := e.web("GET", "/api/v1/web/guest/default/secure.json", "")
		wantError(t, r, 401, "The supplied authentication is invalid.")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("no Basic challenge")
		}
		wantError(t, e.web("GET", "/api/v1/web/guest/default/secure.json", "", "Authorization", "Basic Zm9vOmJhcg=="), 401, "")
		if p := params(t, e.web("GET", "/api/v1/web/guest/default/secure.json", "", "Authorization", e.otherAuth)); p["__ow_user"] != "other" {
			t.Errorf("__ow_user %v", p["__ow_user"])
		}
	})
	t.Run("require-whisk-auth secret", func(t *testing.T) {
		r := e.web("GET", "/api/v1/web/guest/default/secret.json", "", "X-Require-Whisk-Auth", "wrong")
		wantError(t, r, 401, "")
		if r.header.Get("WWW-Authenticate") != "" {
			t.Error("a Basic challenge for a secret header")
		}
		params(t, e.web("GET", "/api/v1/web/guest/default/secret.json", "", "X-Require-Whisk-Auth", "s3cret"))
	})
	t.Run("OPTIONS answers CORS without running the action", func(t *testing.T) {
		before := act.lastInvocation()
		r := e.web("OPTIONS", "/api/v1/web/guest/default/secure", "", "Access-Control-Request-Headers", "X-One")
		if r.status != 200 || r.header.Get("Access-Control-Allow-Headers") != "X-One" || r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("status %d headers %v", r.status, r.header)
		}
		if act.lastInvocation() != before {
			t.Error("OPTIONS ran the action")
		}
	})
	t.Run("web-custom-options runs the action for OPTIONS, without CORS headers", func(t *testing.T) {
		r := e.web("OPTIONS", "/api/v1/web/guest/default/custom.json", "")
		if p := params(t, r); p["__ow_method"] != "options" {
			t.Fatalf("method %v", p["__ow_method"])
		}
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("CORS header %q", r.header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("a body over 1 MB", func(t *testing.T) {
		wantError(t, e.web("POST", "/api/v1/web/guest/default/echo", strings.Repeat("x", 1<<20+1), "Content-Type", "text/plain"), 413, "")
	})
	t.Run("a result that is not valid for the extension", func(t *testing.T) {
		wantError(t, e.web("GET", "/api/v1/web/guest/default/echo.html", ""), 400, "Response is not valid 'text/html'.")
	})
}
