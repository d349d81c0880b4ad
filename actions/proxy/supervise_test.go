package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// superviseSh runs `sh -c script` under supervise with env as its getenv,
// the API forwarded from a free loopback port.
func superviseSh(ctx context.Context, script string, env map[string]string) error {
	return supervise(ctx, []string{"sh", "-c", script}, "127.0.0.1:0",
		func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
}

func TestSuperviseExitStatus(t *testing.T) {
	if err := superviseSh(t.Context(), "exit 0", nil); err != nil {
		t.Errorf("exit 0: %v, want nil", err)
	}
	var ee *ExitError
	if err := superviseSh(t.Context(), "exit 3", nil); !errors.As(err, &ee) || ee.Code != 3 {
		t.Errorf("exit 3: %v, want an ExitError with code 3", err)
	}
	if err := superviseSh(t.Context(), "kill -KILL $$", nil); !errors.As(err, &ee) || ee.Code != 128+9 {
		t.Errorf("killed: %v, want an ExitError with code 137", err)
	}
	if err := supervise(t.Context(), nil, "127.0.0.1:0", os.Getenv, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "needs the command") {
		t.Errorf("no command: %v, want an error that says so", err)
	}
	if err := supervise(t.Context(), []string{"/no/such/server"}, "127.0.0.1:0", os.Getenv, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "/no/such/server") {
		t.Errorf("missing command: %v, want an error naming it", err)
	}
}

// waitFile waits for path to hold a line, and returns it.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("%s was not written", path)
	return ""
}

// TestSuperviseForwardsTheAPI: the command gets __OW_API_HOST at the
// forwarder, which reaches the API's Unix socket.
func TestSuperviseForwardsTheAPI(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "api saw %s", r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	host, stop := filepath.Join(dir, "host"), filepath.Join(dir, "stop")
	t.Setenv("HOSTFILE", host) // the command inherits the process's environment
	t.Setenv("STOPFILE", stop)
	done := make(chan error, 1)
	go func() {
		done <- superviseSh(context.Background(), `echo "$__OW_API_HOST" > "$HOSTFILE"; while [ ! -e "$STOPFILE" ]; do sleep 0.02; done`,
			map[string]string{APISocketEnv: sock})
	}()
	apiHost := waitFile(t, host)
	if !strings.HasPrefix(apiHost, "http://127.0.0.1:") {
		t.Fatalf("__OW_API_HOST = %q, want the forwarder's loopback address", apiHost)
	}
	resp, err := http.Get(apiHost + "/api/v1")
	if err != nil {
		t.Fatalf("GET through the forwarder: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "api saw /api/v1" {
		t.Errorf("through the forwarder: %q, want the API's answer", body)
	}
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("supervise: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("supervise did not return after its command exited")
	}
	// The forwarder closes with the command (its listener closes on its
	// own goroutine, just after).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(apiHost, "http://"), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the forwarder still accepts connections after the command exited")
		}
	}
}

// TestSupervisePassesSignalsOn: a SIGTERM to the supervisor (docker stop)
// reaches the command, whose exit status becomes the supervisor's.
func TestSupervisePassesSignalsOn(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	t.Setenv("READYFILE", ready)
	done := make(chan error, 1)
	go func() {
		done <- superviseSh(context.Background(), `trap 'exit 7' TERM; echo up > "$READYFILE"; while :; do sleep 0.02; done`, nil)
	}()
	waitFile(t, ready) // the supervisor has its signal handler before the command starts
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 7 {
			t.Errorf("after SIGTERM: %v, want the command's exit status 7", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not get the SIGTERM")
	}
}
