package exampletest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/syncbuf"
)

// GuestKey is OpenWhisk's well-known guest key, which `serve
// --dev-guest-key` accepts: its uuid and secret.
const (
	GuestUUID   = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
	GuestSecret = "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot(tb testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Binary builds the gust binary once per test run and returns its path;
// RemoveBinary removes it.
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gust-example-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gust")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/gust")
		cmd.Dir = moduleRoot(tb)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		tb.Fatalf("build gust: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// RemoveBinary removes the binary Binary built, if it built one: call it
// from TestMain after the tests ran.
func RemoveBinary() {
	if buildErr == nil && binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

// Gust is a `gust serve` started for a test.
type Gust struct {
	// Env is the environment its CLI commands run with.
	Env []string
	// Addr is the API's host:port on 127.0.0.1; DataDir is its data
	// directory. Both stay the same across Kill and Start.
	Addr    string
	DataDir string
	bin     string
	args    []string
	logs    *syncbuf.Buffer

	mu      sync.Mutex
	cmd     *exec.Cmd
	stopped chan struct{}
}

// Logs is what serve logged so far, over all its starts.
func (g *Gust) Logs() string { return g.logs.String() }

// Serve runs `gust serve --dev-guest-key --listen 127.0.0.1:<free>` with
// flags added, in a temporary data directory and HOME, until the test
// ends, and waits until it is ready.
func Serve(tb testing.TB, flags ...string) *Gust {
	tb.Helper()
	bin := Binary(tb)
	home := tb.TempDir()
	data := filepath.Join(home, "data")
	g := &Gust{bin: bin, logs: &syncbuf.Buffer{}, DataDir: data, Addr: "127.0.0.1:" + strconv.Itoa(freePort(tb))}
	g.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GUST_CONFIG="+filepath.Join(data, "cli-config"))
	g.args = append([]string{"serve", "--data-dir", data, "--listen", g.Addr, "--dev-guest-key", "--build-images=false"}, flags...)
	tb.Cleanup(func() {
		g.Stop(tb)
		if tb.Failed() {
			tb.Logf("gust serve logs:\n%s", g.Logs())
		}
	})
	g.Start(tb)
	return g
}

// ServeNode is Serve with --sandbox process for an example whose actions
// run with Node.js: it skips the test under -short, and without node
// (with CI=true it fails instead: .ci/run installs npm, which brings it).
func ServeNode(tb testing.TB, flags ...string) *Gust {
	tb.Helper()
	if testing.Short() {
		tb.Skip("runs gust serve; -short")
	}
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("node is not installed, and CI needs it (.ci/run installs npm, which brings it)")
		}
		tb.Skip("the example's actions run with Node.js in the process sandbox, and there is no node")
	}
	return Serve(tb, append([]string{"--sandbox", "process"}, flags...)...)
}

// Start starts serve again, with the same flags, data directory and
// address, after Kill or Stop, and waits until it is ready.
func (g *Gust) Start(tb testing.TB) {
	tb.Helper()
	g.mu.Lock()
	if g.cmd != nil {
		g.mu.Unlock()
		tb.Fatal("exampletest: Start while gust serve runs")
	}
	from := len(g.Logs())
	cmd := exec.Command(g.bin, g.args...)
	cmd.Env = g.Env
	cmd.Stdout, cmd.Stderr = g.logs, g.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		g.mu.Unlock()
		tb.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { _ = cmd.Wait(); close(stopped) }()
	g.cmd, g.stopped = cmd, stopped
	g.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(g.Logs()[from:], "gust ready") {
		select {
		case <-stopped:
			tb.Fatalf("gust serve ended:\n%s", g.Logs()[from:])
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("gust serve not ready in 60 s:\n%s", g.Logs()[from:])
		}
	}
	for _, err := os.Stat(filepath.Join(g.DataDir, "cli-config")); err != nil; _, err = os.Stat(filepath.Join(g.DataDir, "cli-config")) {
		if time.Now().After(deadline) {
			tb.Fatal("gust serve wrote no CLI config")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill kills serve with SIGKILL, as a crash would (its process only, not
// what it started), and waits until it is gone.
func (g *Gust) Kill(tb testing.TB) { g.end(syscall.SIGKILL) }

// Stop stops serve with SIGTERM, as a user would, and waits until it is
// gone (up to 30 s, then it kills its process group).
func (g *Gust) Stop(tb testing.TB) { g.end(syscall.SIGTERM) }

// end sends sig to serve, if it runs, and waits until it is gone (up to
// 30 s, then it kills its process group).
func (g *Gust) end(sig syscall.Signal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(sig)
	select {
	case <-g.stopped:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
		<-g.stopped
	}
	g.cmd = nil
}

// ShellEnv is serve's environment (its CLI config and home) with the gust
// binary first on PATH, for shell commands that run gust as a README does.
func (g *Gust) ShellEnv() []string {
	return append(g.Env[:len(g.Env):len(g.Env)], "PATH="+filepath.Dir(g.bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// Run runs a gust CLI command and returns its output, failing tb when it
// fails.
func (g *Gust) Run(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.bin, args...)
	cmd.Env = g.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("gust %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int { tb.Helper(); return freePort(tb) }
