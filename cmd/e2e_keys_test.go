package gustcmd

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gusthub/gust/api"
)

// TestE2EKeysNeverShow runs a whole Gust with debug logs through key
// creation, invokes (good, failing, blocking, web), rule fires, wrong keys
// and bad requests, then looks for every key's secret in its logs, in the
// activation records and in the error answers: none may hold one.
func TestE2EKeysNeverShow(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	g := startGust(t, dir, "--sandbox", "process", "--log-level", "debug")
	getenv := func(k string) string {
		if k == "GUST_CONFIG" {
			return filepath.Join(dir, dataDirConfig)
		}
		return ""
	}
	props, err := readProps(filepath.Join(dir, dataDirConfig))
	if err != nil {
		t.Fatal(err)
	}
	created := gust(t, getenv, "namespace", "create", "team")
	if created.err != nil {
		t.Fatalf("namespace create: %v %s", created.err, created.stderr)
	}
	teamKey := strings.TrimSpace(strings.TrimPrefix(strings.Split(created.stdout, "\n")[1], "key: "))
	keys := map[string]string{"guest": api.DevGuestKey, "admin": props[propAdminAuth], "team": teamKey}
	for who, k := range keys {
		if _, secret, ok := strings.Cut(k, ":"); !ok || len(secret) != api.KeyLength {
			t.Fatalf("%s key %q is not uuid:secret", who, k)
		}
	}

	var answers strings.Builder // every answer's body
	send := func(auth, method, path, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, g.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if u, p, ok := strings.Cut(auth, ":"); ok {
			req.SetBasicAuth(u, p)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answers.Write(b)
		answers.WriteByte('\n')
		return resp.StatusCode
	}
	const failing = `function main() { throw new Error('no'); }`
	guest, team := keys["guest"], keys["team"]
	for _, step := range []struct {
		auth, method, path, body string
		want                     int
	}{
		{guest, "PUT", "/namespaces/_/actions/hello", `{"exec":{"kind":"nodejs:default","code":"function main(p) { return {keys: Object.keys(p)}; }"},"annotations":[{"key":"web-export","value":true}]}`, 200},
		{guest, "PUT", "/namespaces/_/actions/failing", `{"exec":{"kind":"nodejs:default","code":"` + failing + `"}}`, 200},
		{guest, "POST", "/namespaces/_/actions/hello?blocking=true", `{"name":"Ada"}`, 200},
		{guest, "POST", "/namespaces/_/actions/failing?blocking=true", `{}`, 502},
		{guest, "POST", "/namespaces/_/actions/hello", `{"name":`, 400},
		{guest, "POST", "/namespaces/_/actions/missing", `{}`, 404},
		{guest, "PUT", "/namespaces/_/triggers/t", `{}`, 200},
		{guest, "PUT", "/namespaces/_/rules/r", `{"trigger":"/_/t","action":"/_/hello"}`, 200},
		{guest, "POST", "/namespaces/_/triggers/t", `{"from":"fire"}`, 202},
		{guest, "GET", "/web/guest/default/hello.json", ``, 200},
		{team, "POST", "/namespaces/guest/actions/hello", `{}`, 404},
		{team, "PUT", "/namespaces/_/actions/mine", `{"exec":{"kind":"nodejs:default","code":"function main() { return {}; }"}}`, 200},
		{team, "POST", "/namespaces/_/actions/mine?blocking=true", `{}`, 200},
		// A wrong secret for a real uuid, and a key with no uuid.
		{strings.Split(guest, ":")[0] + ":" + strings.Repeat("x", api.KeyLength), "GET", "/namespaces/_/actions", ``, 401},
		{":" + strings.Split(guest, ":")[1], "GET", "/namespaces/_/actions", ``, 401},
		{guest, "PUT", "/namespaces/other", ``, 403},
	} {
		if got := send(step.auth, step.method, step.path, step.body); got != step.want {
			t.Errorf("%s %s: %d, want %d", step.method, step.path, got, step.want)
		}
	}
	recs := g.waitActivations(t, "the activations of the run", func(rs []record) bool {
		return countNamed(rs, "hello") >= 3 && countNamed(rs, "t") == 1 && countNamed(rs, "failing") == 1
	})
	for _, ns := range []string{"guest", "team"} { // the records, into answers
		send(keys[ns], "GET", "/namespaces/_/activations?docs=true&limit=200", ``)
	}
	logs := g.logs.String()
	if !strings.Contains(logs, "gust ready") || !strings.Contains(answers.String(), recs[0].ActivationID) {
		t.Fatalf("nothing to look in: records %v, logs %q", recs, logs)
	}
	for who, k := range keys {
		_, secret, _ := strings.Cut(k, ":")
		for where, text := range map[string]string{"logs": logs, "answers (records, errors)": answers.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s key's secret is in the %s", who, where)
			}
		}
	}
}
