package upstreamtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
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

// required reports whether a missing server fails the test instead of
// skipping it.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("GUST_REQUIRE_DOCKER") == "1"
}

// find returns the path of program name (also looked for in the sbin
// directories, where Debian puts mosquitto), or skips or fails tb.
func find(tb testing.TB, name, install string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	if required() {
		tb.Fatalf("%s is not installed, and CI needs it (%s; .ci/run does it)", name, install)
	}
	tb.Skipf("%s is not installed (%s); CI=true fails instead of skipping", name, install)
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Process is a server started for a test.
type Process struct {
	// Addr is its host:port on 127.0.0.1.
	Addr string
	// Port is Addr's port.
	Port int

	name string
	args []string
	dir  string
	log  *syncbuf.Buffer

	mu  sync.Mutex
	cmd *exec.Cmd
	end chan struct{}
}

// Output is what the server wrote so far.
func (p *Process) Output() string { return p.log.String() }

func (p *Process) start(tb testing.TB, ready func() error) {
	tb.Helper()
	cmd := exec.Command(p.name, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", p.name, err)
	}
	end := make(chan struct{})
	go func() { _ = cmd.Wait(); close(end) }()
	p.mu.Lock()
	p.cmd, p.end = cmd, end
	p.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-end:
			tb.Fatalf("%s exited before it was ready: %v\n%s", filepath.Base(p.name), err, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			tb.Fatalf("%s not ready in 60 s: %v\n%s", filepath.Base(p.name), err, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server (its whole process group) and waits until it has
// exited. Stopping a stopped server does nothing.
func (p *Process) Stop() {
	p.mu.Lock()
	cmd, end := p.cmd, p.end
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-end
}

func dialable(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// MosquittoOptions add to the broker's configuration.
type MosquittoOptions struct {
	// Config lines appended to the generated mosquitto.conf (a listener on
	// the chosen port, anonymous clients allowed, no persistence).
	Config []string
	// Files are written next to mosquitto.conf before it starts (a
	// password file, certificates), by name.
	Files map[string][]byte
}

// Mosquitto starts a mosquitto broker on a free loopback port, for the
// rest of the test.
func Mosquitto(tb testing.TB, opts MosquittoOptions) *Process {
	tb.Helper()
	bin := find(tb, "mosquitto", "apt-get install mosquitto")
	dir := tb.TempDir()
	p := &Process{name: bin, dir: dir, log: &syncbuf.Buffer{}}
	p.Port = FreePort(tb)
	p.Addr = "127.0.0.1:" + strconv.Itoa(p.Port)
	conf := []string{
		"listener " + strconv.Itoa(p.Port) + " 127.0.0.1",
		"allow_anonymous true",
		"persistence false",
		"max_queued_messages 100000",
		"log_dest stdout",
	}
	conf = append(conf, opts.Config...)
	for name, b := range opts.Files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	p.args = []string{"-c", confPath}
	p.start(tb, dialable(p.Addr))
	tb.Cleanup(p.Stop)
	return p
}

// Restart starts a stopped server again on the same port.
func (p *Process) Restart(tb testing.TB) {
	tb.Helper()
	p.Stop()
	p.start(tb, dialable(p.Addr))
}

// Pouch is a pouchdb-server, a CouchDB-compatible HTTP server keeping its
// databases in memory.
type Pouch struct {
	*Process
	// URL is its base URL, http://127.0.0.1:<port>.
	URL string
}

// PouchDB starts pouchdb-server --in-memory on a free loopback port, for
// the rest of the test.
func PouchDB(tb testing.TB) *Pouch {
	tb.Helper()
	bin := find(tb, "pouchdb-server", "npm install -g pouchdb-server")
	dir := tb.TempDir()
	p := &Pouch{Process: &Process{name: bin, dir: dir, log: &syncbuf.Buffer{}}}
	p.Port = FreePort(tb)
	p.Addr = "127.0.0.1:" + strconv.Itoa(p.Port)
	p.URL = "http://" + p.Addr
	p.args = []string{"--in-memory", "--host", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-n"}
	p.start(tb, func() error {
		resp, err := http.Get(p.URL + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET / answered %s", resp.Status)
		}
		return nil
	})
	tb.Cleanup(p.Stop)
	return p
}

// Do sends a JSON request to the server and decodes nothing: it fails tb
// unless the status is 2xx, and returns the body.
func (p *Pouch) Do(tb testing.TB, method, path string, body []byte) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.URL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		tb.Fatalf("%s %s: %s %s", method, path, resp.Status, out.String())
	}
	return out.Bytes()
}

// Run runs a client program of the servers' packages (mosquitto_pub,
// mosquitto_sub) to its end, failing tb when it fails, and returns its
// output.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	bin := find(tb, name, "apt-get install mosquitto-clients")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Command returns the command that runs a client program, for a test that
// starts it and reads it while it runs (mosquitto_sub).
func Command(tb testing.TB, name string, args ...string) *exec.Cmd {
	tb.Helper()
	return exec.Command(find(tb, name, "apt-get install mosquitto-clients"), args...)
}

// Try runs a client program like Run but returns its failure instead of
// failing tb: for a client that should be refused.
func Try(tb testing.TB, name string, args ...string) (string, error) {
	tb.Helper()
	bin := find(tb, name, "apt-get install mosquitto-clients")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// Chromium returns the path of Debian's chromium, for tests that drive a
// headless browser; it skips tb where chromium is not installed, or fails
// it in CI.
func Chromium(tb testing.TB) string {
	tb.Helper()
	return find(tb, "chromium", "apt-get install -y chromium")
}
