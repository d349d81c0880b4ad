package docker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// serveTestAPI serves a stand-in for Gust's API on api.sock in a new
// directory, which it returns: every request is answered with its path.
// Containers run as other users, so the directory and socket are open to
// all, as serve's are.
func serveTestAPI(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gapi") // short: a socket path must fit in 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "api saw %s", r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return dir
}

// TestBlackboxReachesTheAPI: a blackbox container, whose image serves
// /init and /run itself, runs its image's command under the API forwarder,
// so that its action reaches __OW_API_HOST with no route to the host, as
// actions of Gust's runtimes do. Its output still reaches the logs.
func TestBlackboxReachesTheAPI(t *testing.T) {
	s := requireDocker(t, Options{APISocketDir: serveTestAPI(t), APIForwarder: gustBinary(t)})
	if s.forwarder == "" {
		t.Fatal("the static gust binary was not taken as the API forwarder")
	}
	spec := testSpec(t, s, false)
	spec.Env["__OW_API_HOST"] = "http://127.0.0.2:9" // the host's address, which the forwarder's replaces
	c := create(t, s, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := post(ctx, c, "/init", map[string]any{"value": map[string]any{"code": "x"}}); err != nil {
		t.Fatal(err)
	}
	out := runValue(t, c, map[string]any{"fetch": "/api/v1/namespaces", "env": []string{"__OW_API_HOST"}, "stdout": []string{"from the action"}})
	if out["fetch_status"] != 200.0 || out["fetch_body"] != "api saw /api/v1/namespaces" {
		t.Errorf("the action's API call: status %v, body %q, error %v", out["fetch_status"], out["fetch_body"], out["fetch_error"])
	}
	if env, _ := out["env"].(map[string]any); env["__OW_API_HOST"] != "http://127.0.0.1:3233" {
		t.Errorf("__OW_API_HOST = %v, want the forwarder's address in the container", env["__OW_API_HOST"])
	}
	info, err := s.cli.ContainerInspect(ctx, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ForwarderPath, "-supervise", "--"}; !slices.Equal(info.Config.Entrypoint, want) || !slices.Equal(info.Config.Cmd, []string{"/bin/proxy"}) {
		t.Errorf("runs %q %q, want %q and the image's command", info.Config.Entrypoint, info.Config.Cmd, want)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l := <-c.Logs():
			if l.Stream == "stdout" && l.Text == "from the action" {
				return
			}
		case <-timeout:
			t.Fatal("the action's stdout line did not reach the logs")
		}
	}
}

// TestForwarderMustBeStatic: a dynamically linked gust would not run in
// another image, so blackbox containers are left as they are.
func TestForwarderMustBeStatic(t *testing.T) {
	if err := checkStatic("/bin/sh"); err == nil {
		t.Skip("/bin/sh is statically linked here; no dynamic executable to try")
	}
	s, err := New(Options{APISocketDir: t.TempDir(), APIForwarder: "/bin/sh", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.forwarder != "" {
		t.Errorf("took the dynamically linked %s as the forwarder", s.forwarder)
	}
	if err := checkStatic(gustBinary(t)); err != nil {
		t.Errorf("the CGO_ENABLED=0 gust: %v", err)
	}
	if err := checkStatic(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file passed as static")
	}
}

// TestCreateUnwrappedWithoutForwarder: without the forwarder a blackbox
// container runs its image's command as it is.
func TestCreateUnwrappedWithoutForwarder(t *testing.T) {
	s := requireDocker(t, Options{})
	c := create(t, s, testSpec(t, s, false))
	info, err := s.cli.ContainerInspect(context.Background(), c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.Config.Entrypoint, []string{"/bin/proxy"}) || len(info.Config.Cmd) != 0 {
		t.Errorf("runs %q %q, want the image's own entrypoint", info.Config.Entrypoint, info.Config.Cmd)
	}
}
