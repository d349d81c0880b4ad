package gustcmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gusthub/gust/api"
)

// BenchmarkWarmInvokeFromAnotherProcess is a warm blocking invoke
// (?blocking=true&result=true) of a nodejs no-op as a user makes it: from
// this process, a Go client with keep-alive, to a `gust serve` process
// with its default threads (--procs) and the Docker sandbox. The floor is
// the same client's /run straight to the action's container, over its
// Unix socket; the two alternate in rounds, as in the invoker's
// BenchmarkWarmInvoke, so that the machine's drift slows both alike. It
// reports the p50s, `gust serve`'s CPU per invoke (proc-cpu-µs/invoke,
// from /proc) and the client's own CPU per /run
// (floor-proc-cpu-µs/invoke): what Gust spends on an invoke against what
// a caller of the container spends on it.
func BenchmarkWarmInvokeFromAnotherProcess(b *testing.B) {
	requireEngine(b)
	const rounds, perRound = 10, 200
	serve := startServeProcess(b, "--metrics-listen", "off", "--build-images=false") // no image builds in its CPU
	invoke := func() time.Duration {
		t0 := time.Now()
		code, body, err := serve.do("POST", "/namespaces/_/actions/noop?blocking=true&result=true", api.DevGuestKey, map[string]any{})
		if err != nil || code != http.StatusOK {
			b.Fatalf("invoke: %d %s %v", code, body, err)
		}
		return time.Since(t0)
	}
	serve.mustRequest(b, http.StatusOK, "PUT", "/namespaces/_/actions/noop", api.DevGuestKey, nodeAction(`function main() { return {}; }`))
	for range 20 { // cold start, then warm
		invoke()
	}
	run := directRunner(b, containerSocket(b, serve.dir, "noop"))
	for range 20 {
		run()
	}
	b.ResetTimer()
	for range b.N {
		var invokes, runs []time.Duration
		var serveCPU, clientCPU time.Duration
		for range rounds {
			c0 := processCPU(b, serve.cmd.Process.Pid)
			for range perRound {
				invokes = append(invokes, invoke())
			}
			serveCPU += processCPU(b, serve.cmd.Process.Pid) - c0
			c0 = ownCPU()
			for range perRound {
				runs = append(runs, run())
			}
			clientCPU += ownCPU() - c0
		}
		slices.Sort(invokes)
		slices.Sort(runs)
		b.ReportMetric(float64(invokes[len(invokes)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(runs[len(runs)/2].Microseconds()), "floor-p50-µs")
		b.ReportMetric(float64(serveCPU.Microseconds())/float64(len(invokes)), "proc-cpu-µs/invoke")
		b.ReportMetric(float64(clientCPU.Microseconds())/float64(len(runs)), "floor-proc-cpu-µs/invoke")
	}
}

// startServeProcess runs `gust serve` on a data dir of its own with the
// Docker sandbox, no stem cells and the dev guest key, plus extra flags,
// and waits until it is ready. It stops with SIGTERM when the benchmark
// ends, which removes its containers.
func startServeProcess(b *testing.B, extra ...string) *clusterNode {
	b.Helper()
	n := newClusterNode(b, "serve", "all", freeAddr(b), append([]string{"--sandbox", "docker"}, extra...)...)
	owners.Add(containerOwner(n.dir))
	if err := startNodes(b, []*clusterNode{n}); err != nil {
		b.Fatalf("%v%s", err, allLogs([]*clusterNode{n}))
	}
	b.Cleanup(func() { // before the node's own cleanup, which kills it
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(time.Minute):
		}
	})
	return n
}

// containerSocket is the proxy socket of the one container serve on
// dataDir runs action in.
func containerSocket(b *testing.B, dataDir, action string) string {
	b.Helper()
	out, err := exec.Command("docker", "ps", "--filter", "label=gust.owner="+containerOwner(dataDir),
		"--filter", "label=gust.action="+action, "--format", `{{.Label "gust.socket-dir"}}`).Output()
	if err != nil {
		b.Fatalf("docker ps: %v", err)
	}
	dirs := strings.Fields(string(out))
	if len(dirs) != 1 {
		b.Fatalf("containers of %s: %q, want one", action, dirs)
	}
	return filepath.Join(dirs[0], "proxy.sock")
}

// directRunner returns a function that sends the container listening on
// socket a /run like the invoker's, with keep-alive, and times it.
func directRunner(b *testing.B, socket string) func() time.Duration {
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
	b.Cleanup(c.CloseIdleConnections)
	return func() time.Duration {
		body := fmt.Appendf(nil, `{"value":{},"namespace":"guest","action_name":"/guest/noop","action_version":"0.0.1","activation_id":"0123456789abcdef0123456789abcdef","transaction_id":"t","deadline":"%d"}`,
			time.Now().Add(time.Minute).UnixMilli())
		t0 := time.Now()
		res, err := c.Post("http://proxy/run", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("/run: %s", res.Status)
		}
		return time.Since(t0)
	}
}

// processCPU is the user and system CPU time process pid has used, from
// /proc (in clock ticks of 10 ms: measure stretches of a second or more).
func processCPU(b *testing.B, pid int) time.Duration {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(s[bytes.LastIndexByte(s, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// ownCPU is the user and system CPU time this process has used.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
