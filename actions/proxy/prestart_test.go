package proxy_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions/proxy"
)

// initBody is an /init of a small nodejs action.
const initBody = `{"value":{"name":"t","main":"main","binary":false,"code":"function main() { return {}; }"}}`

func postInit(t testing.TB, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/init", strings.NewReader(initBody)))
	var answer struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatalf("init answered %d %q: %v", rec.Code, rec.Body, err)
	}
	return rec.Code, answer.Error
}

// TestPrestartedLauncherExits checks that a language process that is gone
// before /init fails the /init with a message that says so.
func TestPrestartedLauncherExits(t *testing.T) {
	dir := t.TempDir()
	exited := filepath.Join(dir, "exited")
	srv, err := proxy.New(proxy.Config{
		Launcher: []string{"/bin/sh", "-c", "echo gone >&2; touch " + exited + "; exit 3"},
		Dir:      filepath.Join(dir, "action"),
		Prestart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(exited); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the launcher did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	status, msg := postInit(t, srv)
	if status != http.StatusBadGateway || !strings.Contains(msg, "exited before /init") || !strings.Contains(msg, "exit status 3") {
		t.Fatalf("init answered %d %q, want 502 saying the process exited before /init with status 3", status, msg)
	}
	if status, msg := postInit(t, srv); status != http.StatusForbidden {
		t.Fatalf("second init answered %d %q, want 403", status, msg)
	}
}

// TestPrestartedLauncherMissing checks that a language process that could
// not start fails the /init with the reason.
func TestPrestartedLauncherMissing(t *testing.T) {
	dir := t.TempDir()
	srv, err := proxy.New(proxy.Config{
		Launcher: []string{filepath.Join(dir, "no-such-launcher")},
		Dir:      filepath.Join(dir, "action"),
		Prestart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	status, msg := postInit(t, srv)
	if status != http.StatusBadGateway || !strings.Contains(msg, "did not start") || !strings.Contains(msg, "no-such-launcher") {
		t.Fatalf("init answered %d %q, want 502 saying the process did not start", status, msg)
	}
}

// TestPrestartedCloseBeforeInit checks that Close stops a pre-started
// process that waits for its init line.
func TestPrestartedCloseBeforeInit(t *testing.T) {
	dir := t.TempDir()
	srv, err := proxy.New(proxy.Config{
		Launcher: []string{"/bin/sh", "-c", "read line; echo '{\"ok\":true}' >&3; cat >/dev/null"},
		Dir:      filepath.Join(dir, "action"),
		Prestart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs with a pre-started process")
	}
	if status, _ := postInit(t, srv); status != http.StatusServiceUnavailable {
		t.Fatalf("init after Close answered %d, want 503", status)
	}
}

// TestPrestartedInitLine checks what a pre-started launcher gets: the
// marker in its environment at start, and at /init one line with the
// environment the launcher started at /init would have had.
func TestPrestartedInitLine(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "got")
	srv, err := proxy.New(proxy.Config{
		Launcher: []string{"/bin/sh", "-c", `echo "$GUST_INIT_ON_STDIN $__OW_WAIT_FOR_ACK $FROM_PROXY" > ` + got + `; read -r line; printf '%s\n' "$line" >> ` + got + `; echo '{"ok":true}' >&3; cat >/dev/null`},
		Dir:      filepath.Join(dir, "action"),
		Env:      []string{"FROM_PROXY=yes"},
		Prestart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rec := httptest.NewRecorder()
	body := `{"value":{"name":"t","main":"handler","code":"x","env":{"__OW_NAMESPACE":"guest","OBJ":{"a":1}}}}`
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/init", strings.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("init answered %d %s", rec.Code, rec.Body)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "true true yes" {
		t.Fatalf("the launcher got %q", b)
	}
	var msg struct {
		Init struct{ Env map[string]string }
	}
	if err := json.Unmarshal([]byte(lines[1]), &msg); err != nil {
		t.Fatalf("init line %q: %v", lines[1], err)
	}
	want := map[string]string{
		"__OW_NAMESPACE": "guest", "OBJ": `{"a":1}`, "__OW_WAIT_FOR_ACK": "true",
		"GUST_ACTION_PATH": filepath.Join(dir, "action", "exec"), "GUST_ACTION_MAIN": "handler",
	}
	if !maps.Equal(msg.Init.Env, want) {
		t.Fatalf("init env %v, want %v", msg.Init.Env, want)
	}
}
