package api_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gusthub/gust/actions"
)

// TestRestart creates one entity of every kind, restarts the hub and the
// API on the same data directory, and reads everything back unchanged.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	e := startEnv(t, dir)
	// Code larger than the 256 KiB kept inline goes to the object store.
	bigCode := "function main(p) { return p } //" + strings.Repeat("0123456789abcdef", 300<<10/16)
	creates := []struct{ path, body string }{
		{"/api/v1/namespaces/_/actions/hello", bodyHello},
		{"/api/v1/namespaces/_/actions/hello2", bodyHello2},
		{"/api/v1/namespaces/_/actions/zipaction", bodyZip},
		{"/api/v1/namespaces/_/actions/big", `{"exec":{"kind":"nodejs:20","code":"` + bigCode + `"}}`},
		{"/api/v1/namespaces/_/actions/seq", bodySeq},
		{"/api/v1/namespaces/_/actions/box", `{"exec":{"kind":"blackbox","image":"user/img:1","code":"QUJD"}}`},
		{"/api/v1/namespaces/_/packages/mypkg", bodyPackage},
		{"/api/v1/namespaces/_/actions/mypkg/inpkg", bodyInPkg},
		{"/api/v1/namespaces/_/packages/mybinding", bodyBinding},
		{"/api/v1/namespaces/_/packages/shared", `{"publish":true}`},
		{"/api/v1/namespaces/_/triggers/mytrigger", bodyTrigger},
		{"/api/v1/namespaces/_/rules/myrule", bodyRule},
	}
	for _, c := range creates {
		e.must("PUT", c.path+"?overwrite=false", c.body)
	}
	e.must("POST", "/api/v1/namespaces/_/rules/myrule", bodyDisable)
	// An update of the big action: its code object is replaced.
	e.must("PUT", "/api/v1/namespaces/_/actions/big?overwrite=true", `{"parameters":[{"key":"v","value":2}]}`)
	ids := putRecords(t, e, "guest", "hello", "mypkg/inpkg")

	reads := []string{
		"/api/v1/namespaces/_/actions/hello", "/api/v1/namespaces/_/actions/hello2",
		"/api/v1/namespaces/_/actions/zipaction", "/api/v1/namespaces/_/actions/big",
		"/api/v1/namespaces/_/actions/big?code=false", "/api/v1/namespaces/_/actions/seq",
		"/api/v1/namespaces/_/actions/box", "/api/v1/namespaces/_/actions/mypkg/inpkg",
		"/api/v1/namespaces/_/actions/mybinding/inpkg", "/api/v1/namespaces/_/actions/mypkg/",
		"/api/v1/namespaces/_/packages/mypkg", "/api/v1/namespaces/_/packages/mybinding",
		"/api/v1/namespaces/_/packages/shared", "/api/v1/namespaces/_/triggers/mytrigger",
		"/api/v1/namespaces/_/rules/myrule", "/api/v1/namespaces/_/actions?limit=0",
		"/api/v1/namespaces/_/packages?limit=0", "/api/v1/namespaces/_/triggers?limit=0",
		"/api/v1/namespaces/_/rules?limit=0", "/api/v1/namespaces/_/activations?docs=true",
		"/api/v1/namespaces/_/activations/" + ids[0], "/api/v1/namespaces/_/activations/" + ids[1] + "/logs",
	}
	before := make([][]byte, len(reads))
	for i, p := range reads {
		before[i] = e.must("GET", p, "").body
	}
	if got := e.must("GET", "/api/v1/namespaces/_/actions/big", "").object(t)["exec"].(map[string]any)["code"]; got != bigCode {
		t.Fatalf("big code read back with %d bytes, want %d", len(got.(string)), len(bigCode))
	}
	e.close()

	e2 := startEnv(t, dir)
	for i, p := range reads {
		after := e2.must("GET", p, "").body
		if !bytes.Equal(after, before[i]) {
			t.Errorf("GET %s after restart:\n got: %.400s\nwant: %.400s", p, after, before[i])
		}
	}
	t.Run("the rule is still inactive", func(t *testing.T) {
		if st := e2.must("GET", "/api/v1/namespaces/_/rules/myrule", "").object(t)["status"]; st != "inactive" {
			t.Errorf("status %v", st)
		}
	})
	t.Run("keys still authenticate", func(t *testing.T) {
		if r := e2.do("GET", "/api/v1/namespaces", e2.otherAuth, ""); r.status != 200 {
			t.Errorf("other's key: %d", r.status)
		}
		if _, err := e2.ids.Authenticate(context.Background(), "nobody", "x"); err == nil {
			t.Error("an unknown key authenticated")
		}
	})
	t.Run("the big action's code survives its deletion and re-creation", func(t *testing.T) {
		e2.must("DELETE", "/api/v1/namespaces/_/actions/big", "")
		e2.must("PUT", "/api/v1/namespaces/_/actions/big", `{"exec":{"kind":"nodejs:20","code":"`+bigCode+`x"}}`)
		a := e2.must("GET", "/api/v1/namespaces/_/actions/big", "").object(t)
		if code := a["exec"].(map[string]any)["code"].(string); code != bigCode+"x" {
			t.Errorf("code of %d bytes after re-creation", len(code))
		}
		if a["version"] != actions.InitialVersion {
			t.Errorf("version %v", a["version"])
		}
	})
}
