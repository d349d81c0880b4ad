package api_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub/throttle"
)

// openWhiskDefaults are OpenWhisk's default throttles.
var openWhiskDefaults = throttle.Limits{InvocationsPerMinute: 120, ConcurrentInvocations: 100, FiresPerMinute: 60}

// newThrottledEnv is an env whose API enforces throttles, with scripted
// activations, and the Authorization header of an admin key.
func newThrottledEnv(t *testing.T, defaults throttle.Limits) (*env, string) {
	t.Helper()
	e := startEnvWith(t, t.TempDir(), func(e *env, cfg *api.Config) {
		th, err := throttle.Open(context.Background(), e.hub.JetStream(), throttle.Options{Defaults: defaults})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Throttle, cfg.Activator, cfg.Events = th, &scripted{}, &recordingPublisher{}
	})
	key, err := e.ids.Create(context.Background(), "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	return e, "Basic " + base64.StdEncoding.EncodeToString([]byte(key))
}

func TestSetLimits(t *testing.T) {
	e, admin := newThrottledEnv(t, throttle.Limits{FiresPerMinute: 60})
	for _, tc := range []struct {
		name, auth, path, body string
		status                 int
		msg                    string
	}{
		{"not an admin", guestAuth, "/api/v1/namespaces/guest/limits", `{"invocationsPerMinute":3}`, 403, ""},
		{"unknown namespace", admin, "/api/v1/namespaces/nobody/limits", `{"invocationsPerMinute":3}`, 404, ""},
		{"unknown limit", admin, "/api/v1/namespaces/guest/limits", `{"maxActionMemory":3}`, 400,
			"The limit 'maxActionMemory' cannot be set: only invocationsPerMinute, concurrentInvocations and firesPerMinute can."},
		{"negative", admin, "/api/v1/namespaces/guest/limits", `{"concurrentInvocations":-1}`, 400,
			"The limit 'concurrentInvocations' must be a positive integer, or null to remove it."},
		// In OpenWhisk 0 blocks the namespace: neither that nor "remove".
		{"zero", admin, "/api/v1/namespaces/guest/limits", `{"invocationsPerMinute":0}`, 400,
			"The limit 'invocationsPerMinute' must be a positive integer, or null to remove it."},
		{"not a number", admin, "/api/v1/namespaces/guest/limits", `{"firesPerMinute":"many"}`, 400,
			"The limit 'firesPerMinute' must be a positive integer, or null to remove it."},
		{"remove an unknown limit", admin, "/api/v1/namespaces/guest/limits", `{"maxActionMemory":null}`, 400,
			"The limit 'maxActionMemory' cannot be set: only invocationsPerMinute, concurrentInvocations and firesPerMinute can."},
		{"not an object", admin, "/api/v1/namespaces/guest/limits", `[1]`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do("PUT", tc.path, tc.auth, tc.body), tc.status, tc.msg)
		})
	}
	r := e.do("PUT", "/api/v1/namespaces/guest/limits", admin, `{"invocationsPerMinute":3,"concurrentInvocations":2}`)
	if r.status != http.StatusOK {
		t.Fatalf("set: %d %s", r.status, r.body)
	}
	for _, got := range []map[string]any{r.object(t), e.must("GET", "/api/v1/namespaces/_/limits", "").object(t)} {
		if got["invocationsPerMinute"] != 3.0 || got["concurrentInvocations"] != 2.0 || got["firesPerMinute"] != 60.0 || got["maxActionMemory"] != 512.0 {
			t.Errorf("limits %v", got)
		}
	}
	other := e.do("GET", "/api/v1/namespaces/_/limits", e.otherAuth, "").object(t)
	if _, ok := other["invocationsPerMinute"]; ok || other["firesPerMinute"] != 60.0 {
		t.Errorf("other's limits %v: want only the default fire limit", other)
	}

	// null removes a namespace's own limit, back to the default (none for
	// invocationsPerMinute here, 60 for firesPerMinute); absent keeps it.
	if r := e.do("PUT", "/api/v1/namespaces/guest/limits", admin, `{"firesPerMinute":7}`); r.status != http.StatusOK {
		t.Fatalf("set fires: %d %s", r.status, r.body)
	}
	r = e.do("PUT", "/api/v1/namespaces/guest/limits", admin, `{"invocationsPerMinute": null, "firesPerMinute":null}`)
	if r.status != http.StatusOK {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	for _, got := range []map[string]any{r.object(t), e.must("GET", "/api/v1/namespaces/_/limits", "").object(t)} {
		if _, ok := got["invocationsPerMinute"]; ok || got["concurrentInvocations"] != 2.0 || got["firesPerMinute"] != 60.0 {
			t.Errorf("limits after removing invocationsPerMinute and firesPerMinute: %v, want concurrentInvocations 2, firesPerMinute 60 (the default)", got)
		}
	}
}

// TestInvokeThrottles: an invoke over invocationsPerMinute or over
// concurrentInvocations, or a fire over firesPerMinute, is answered 429
// with OpenWhisk's message, and not one before.
func TestInvokeThrottles(t *testing.T) {
	e, admin := newThrottledEnv(t, throttle.Limits{})
	for ns, l := range map[string]string{"other": `{"invocationsPerMinute":5,"firesPerMinute":4}`, "guest": `{"concurrentInvocations":3}`} {
		if r := e.do("PUT", "/api/v1/namespaces/"+ns+"/limits", admin, l); r.status != http.StatusOK {
			t.Fatalf("set %s: %d %s", ns, r.status, r.body)
		}
	}
	e.webAction("echo", "echo")
	e.do("PUT", "/api/v1/namespaces/_/triggers/t", e.otherAuth, `{}`)
	e.do("PUT", "/api/v1/namespaces/_/actions/echo?overwrite=true", e.otherAuth, `{"exec":{"kind":"nodejs:default","code":"function main(p) { return p; }"}}`)
	for _, tc := range []struct {
		name, ns, auth, path, raised string
		allowed                      int
		blocking                     bool
		msg                          string
	}{
		{"per minute", "other", e.otherAuth, "actions/echo", `{"invocationsPerMinute":10}`, 5, false,
			"Too many requests in the last minute (count: 6, allowed: 5)."},
		// The scripted activator completes nothing, so no slot comes back.
		{"concurrent", "guest", guestAuth, "actions/echo", `{"concurrentInvocations":6}`, 3, true,
			"Too many concurrent requests in flight (count: 3, allowed: 3)."},
		// A trigger without rules is fired all the same (204), and counts.
		{"fires", "other", e.otherAuth, "triggers/t", `{"firesPerMinute":8}`, 4, false,
			"Too many requests in the last minute (count: 5, allowed: 4)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/api/v1/namespaces/_/" + tc.path
			if tc.blocking {
				path += "?blocking=true"
			}
			for i := range tc.allowed + 3 {
				r := e.do("POST", path, tc.auth, `{}`)
				if i < tc.allowed {
					if r.status != http.StatusOK && r.status != http.StatusAccepted && r.status != http.StatusNoContent {
						t.Fatalf("invoke %d before the limit: %d %s", i+1, r.status, r.body)
					}
					continue
				}
				if i == tc.allowed {
					wantError(t, r, http.StatusTooManyRequests, tc.msg)
				} else if r.status != http.StatusTooManyRequests {
					t.Errorf("invoke %d: %d %s", i+1, r.status, r.body)
				}
			}
			// The admin raising the limit lets the namespace go on.
			if r := e.do("PUT", "/api/v1/namespaces/"+tc.ns+"/limits", admin, tc.raised); r.status != http.StatusOK {
				t.Fatalf("raise: %d %s", r.status, r.body)
			}
			if r := e.do("POST", path, tc.auth, `{}`); r.status == http.StatusTooManyRequests {
				t.Errorf("after raising the limit: %s", r.body)
			}
		})
	}
}
