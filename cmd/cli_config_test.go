package gustcmd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gusthub/gust/api"
)

func TestCLIConfig(t *testing.T) {
	ts := newTestServer(t)
	// The file points at the real server with the guest key.
	if err := writeProps(ts.configPath, map[string]string{propAPIHost: ts.apiHost, propAuth: ts.auth}); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "none")
	const badAuth = "00000000-0000-0000-0000-000000000000:" + "x"
	for _, tc := range []struct {
		name   string
		env    []string
		flags  []string
		stdout string
		errMsg string
		code   int
	}{
		{name: "config file", env: []string{envAPIHost, "", envAuth, ""}, stdout: "namespaces\nguest\n"},
		{name: "env over file", env: []string{envAPIHost, "", envAuth, badAuth},
			errMsg: "The supplied authentication is invalid. (code ", code: 401 & 0xff},
		{name: "flag over env", env: []string{envAuth, badAuth}, flags: []string{"--auth", api.DevGuestKey}, stdout: "namespaces\nguest\n"},
		{name: "apihost flag over env and file", env: []string{envAPIHost, "http://127.0.0.1:1"}, flags: []string{"--apihost", ts.apiHost},
			stdout: "namespaces\nguest\n"},
		{name: "unreachable", env: []string{envAPIHost, "http://127.0.0.1:1"},
			errMsg: `Unable to obtain the list of available namespaces: Get "http://127.0.0.1:1/api/v1/namespaces"`, code: exitNetwork},
		{name: "nothing configured", env: []string{envAPIHost, "", envAuth, "", "GUST_CONFIG", empty},
			errMsg: "run `gust serve` on this machine, or set GUST_APIHOST and GUST_AUTH", code: exitGeneral},
		{name: "bad apihost", flags: []string{"--apihost", "ftp://x"}, errMsg: `API host "ftp://x": want http://host:port`, code: exitUsage},
		{name: "unknown flag", flags: []string{"--bogus"}, errMsg: "unknown flag: --bogus", code: exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gust(t, ts.env(tc.env...), append([]string{"namespace", "list"}, tc.flags...)...)
			r.check(t, tc.stdout, tc.errMsg, tc.code)
		})
	}
	if _, err := os.Stat(empty); err == nil {
		t.Error("a read-only command wrote a config file")
	}
}

// TestStartTestServer checks the shared helper: the CLI reaches the server
// it starts with only the host and key it returns.
func TestStartTestServer(t *testing.T) {
	apiHost, auth := startTestServer(t)
	getenv := func(k string) string {
		return map[string]string{envAPIHost: apiHost, envAuth: auth, "GUST_CONFIG": filepath.Join(t.TempDir(), "c")}[k]
	}
	gust(t, getenv, "action", "list").check(t, "actions\n", "", 0)
}

// TestVersion checks that `gust version` prints what `gust --version` does.
func TestVersion(t *testing.T) {
	noEnv := func(string) string { return "" }
	gust(t, noEnv, "--version").check(t, "gust version "+version+"\n", "", 0)
	gust(t, noEnv, "version").check(t, "gust version "+version+"\n", "", 0)
}
