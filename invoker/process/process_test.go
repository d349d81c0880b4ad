package process_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions/proxy/proxytest"
	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/invoker/process"
)

// TestMain lets the test binary act as the action proxy when started as
// gust-proxy, exactly as the gust binary does.
func TestMain(m *testing.M) { proxytest.Main(m) }

func newSandbox(t *testing.T) (*process.Sandbox, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Socket paths must stay short, test names need not.
	state, err := os.MkdirTemp("", "gps")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	s, err := process.New(process.Options{ProxyBinary: self, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	return s, state
}

func create(t *testing.T, s *process.Sandbox, owner, kind string, env map[string]string) invoker.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := s.Create(ctx, invoker.Spec{Name: "test", Owner: owner, Kind: kind, Env: env, ProxySocket: true, MemoryMB: 256})
	if errors.Is(err, runtimes.ErrUnavailable) {
		t.Skipf("kind %s: %v", kind, err)
	}
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(context.Background()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return c
}

// TestProtocol runs the action proxy conformance suite through the
// sandbox.
func TestProtocol(t *testing.T) {
	s, _ := newSandbox(t)
	proxytest.Run(t, func(t *testing.T, kind string, env map[string]string) proxytest.Target {
		c := create(t, s, "suite", kind, env)
		lines := make(chan proxytest.Line, 1024)
		go func() {
			defer close(lines)
			for l := range c.Logs() {
				lines <- proxytest.Line{Stream: l.Stream, Text: l.Text}
			}
		}()
		return proxytest.Target{Client: c.Client(), BaseURL: c.BaseURL(), Logs: lines}
	})
}

func TestPauseResume(t *testing.T) {
	s, _ := newSandbox(t)
	c := create(t, s, "pause", runtimes.Native, nil)
	pid := proxyPid(t, c)
	ctx := t.Context()
	if err := c.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, "T")
	if err := c.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, "S", "R")
}

func TestDestroy(t *testing.T) {
	s, state := newSandbox(t)
	c := create(t, s, "destroy", runtimes.Native, nil)
	dir := filepath.Join(state, "destroy", c.ID())
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("container directory: %v", err)
	}
	if err := c.Pause(t.Context()); err != nil { // a paused container dies too
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := c.Destroy(t.Context()); err != nil {
			t.Fatalf("Destroy: %v", err)
		}
	}
	waitClosed(t, c.Logs())
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container directory after Destroy: %v", err)
	}
	if err := c.Resume(t.Context()); err == nil {
		t.Error("Resume after Destroy succeeded")
	}
}

func TestRemoveLeftovers(t *testing.T) {
	earlier, state := newSandbox(t)
	left := create(t, earlier, "inv0", runtimes.Native, nil)
	other := create(t, earlier, "inv1", runtimes.Native, nil)

	// A new run of the invoker, with a new Sandbox on the same state.
	later, err := process.New(process.Options{ProxyBinary: os.Args[0], StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if err := later.RemoveLeftovers(t.Context(), "inv0"); err != nil {
		t.Fatalf("RemoveLeftovers: %v", err)
	}
	waitClosed(t, left.Logs()) // its process group is dead
	if _, err := os.Stat(filepath.Join(state, "inv0", left.ID())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover directory: %v", err)
	}
	// Another owner's container is untouched.
	select {
	case _, ok := <-other.Logs():
		if !ok {
			t.Fatal("RemoveLeftovers killed another owner's container")
		}
	default:
	}
	if err := other.Pause(t.Context()); err != nil {
		t.Fatalf("other owner's container: %v", err)
	}
	if err := other.Resume(t.Context()); err != nil {
		t.Fatalf("other owner's container: %v", err)
	}
}

func TestBlackboxRefused(t *testing.T) {
	s, _ := newSandbox(t)
	_, err := s.Create(t.Context(), invoker.Spec{Name: "bb", Kind: "blackbox", Image: "openwhisk/dockerskeleton"})
	if !errors.Is(err, process.ErrBlackbox) {
		t.Fatalf("Create blackbox: %v, want ErrBlackbox", err)
	}
}

// proxyPid finds the pid of the container's proxy from its pid file.
func proxyPid(t *testing.T, c invoker.Container) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "gps*", "*", c.ID(), "pid"))
	if len(matches) != 1 {
		t.Fatalf("pid files of %s: %q", c.ID(), matches)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitState waits until the process is in one of states (the third field
// of /proc/<pid>/stat).
func waitState(t *testing.T, pid string, states ...string) {
	t.Helper()
	var state string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		state, _, _ = strings.Cut(rest, " ")
		for _, s := range states {
			if state == s {
				return
			}
		}
	}
	t.Fatalf("process %s is in state %s, want one of %q", pid, state, states)
}

func waitClosed(t *testing.T, logs <-chan invoker.LogLine) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-logs:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("Logs not closed")
		}
	}
}
