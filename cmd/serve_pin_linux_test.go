package gustcmd

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPUs reads the CPUs of every thread of this process, by thread id,
// as sched_getaffinity's set.
func threadCPUs(t *testing.T) map[int]unix.CPUSet {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]unix.CPUSet{}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var set unix.CPUSet
		if unix.SchedGetaffinity(tid, &set) == nil { // else it ended meanwhile
			got[tid] = set
		}
	}
	return got
}

// waitReady waits for serve's ready line and returns it.
func waitReady(t *testing.T, g *gustProcess) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(g.logs.String(), "\n") {
			if strings.Contains(line, "gust ready") {
				return line
			}
		}
	}
	t.Fatalf("no ready line:\n%s", g.logs.String())
	return ""
}

// TestServePinsCPUs: --pin-cpus keeps every thread of serve's process on
// the last --procs CPUs while it serves, says which in its ready line, and
// gives every thread its CPUs back when it stops.
func TestServePinsCPUs(t *testing.T) {
	var had unix.CPUSet
	if err := unix.SchedGetaffinity(0, &had); err != nil {
		t.Fatal(err)
	}
	if had.Count() < 2 {
		t.Skip("one CPU: nothing to pin to")
	}
	last := -1
	for c := 0; c < len(had)*64; c++ {
		if had.IsSet(c) {
			last = c
		}
	}
	g := startGust(t, t.TempDir(), "--role", "controller", "--procs", "1", "--pin-cpus")
	if line := waitReady(t, g); !strings.Contains(line, "cpus="+strconv.Itoa(last)+" ") {
		t.Errorf("ready line %q: want cpus=%d", line, last)
	}
	var want unix.CPUSet
	want.Set(last)
	for tid, set := range threadCPUs(t) {
		if set != want {
			t.Errorf("thread %d runs on %d CPUs while serving, want only CPU %d", tid, set.Count(), last)
		}
	}
	g.stop(t)
	for tid, set := range threadCPUs(t) {
		if set != had {
			t.Errorf("thread %d runs on %d CPUs after serve, want the %d it had", tid, set.Count(), had.Count())
		}
	}
}

// TestServeRejectsPinnedProcessActions: actions run as local processes
// would start on Gust's pinned CPUs; serve says so instead of pinning.
func TestServeRejectsPinnedProcessActions(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"gust", "serve", "--data-dir", t.TempDir(), "--sandbox", "process", "--pin-cpus"},
		func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--pin-cpus with --sandbox process") {
		t.Fatalf("gust serve --sandbox process --pin-cpus: %v, want an error naming both", err)
	}
}

// TestServeIgnoresPinCPUsForProcessActions: when --sandbox auto finds no
// Docker engine and runs actions as processes, --pin-cpus is set aside
// with a warning, and serve runs on every CPU.
func TestServeIgnoresPinCPUsForProcessActions(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-engine.sock")
	g := startGust(t, t.TempDir(), "--sandbox", "auto", "--pin-cpus")
	line := waitReady(t, g)
	if !strings.Contains(line, "sandbox=process") || !strings.Contains(line, "cpus=all") {
		t.Errorf("ready line %q: want sandbox=process cpus=all", line)
	}
	if !strings.Contains(g.logs.String(), "--pin-cpus ignored") {
		t.Errorf("no warning that --pin-cpus was ignored:\n%s", g.logs.String())
	}
	g.stop(t)
}
