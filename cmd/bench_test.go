package gustcmd

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"
)

// readyRuns is how many starts each figure of BenchmarkServeReady times.
const readyRuns = 10

// BenchmarkServeReady times `gust serve` from exec until GET /api/v1
// answers, on a fresh data directory each time, against the floor of a bare
// Go HTTP server binary started the same way.
func BenchmarkServeReady(b *testing.B) {
	dir := b.TempDir()
	gust := filepath.Join(dir, "gust")
	floor := filepath.Join(dir, "readyfloor")
	for bin, pkg := range map[string]string{gust: "./gust", floor: "./testdata/readyfloor"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	for i := 0; i < b.N; i++ {
		var serve, bare []time.Duration
		for r := 0; r < readyRuns; r++ {
			addr := freeAddr(b)
			data := filepath.Join(dir, fmt.Sprintf("data%d-%d", i, r))
			serve = append(serve, timeToReady(b, addr, exec.Command(gust, "serve", "--data-dir", data,
				"--listen", addr, "--sandbox", "process", "--stem-cells", "0", "--log-level", "warn"),
				"GUST_CONFIG="+filepath.Join(data, "cli-config")))
			addr = freeAddr(b)
			bare = append(bare, timeToReady(b, addr, exec.Command(floor, addr)))
		}
		b.ReportMetric(median(serve), "p50-ms")
		b.ReportMetric(median(bare), "floor-p50-ms")
	}
}

func freeAddr(b testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// timeToReady starts cmd and polls GET /api/v1 on addr until it answers 200,
// then stops the process with SIGTERM.
func timeToReady(b *testing.B, addr string, cmd *exec.Cmd, env ...string) time.Duration {
	b.Helper()
	cmd.Env = append(os.Environ(), env...)
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for time.Since(start) < 10*time.Second {
		resp, err := client.Get("http://" + addr + "/api/v1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		time.Sleep(time.Millisecond)
	}
	b.Fatalf("%s did not answer on %s within 10s", cmd.Path, addr)
	return 0
}

func median(ds []time.Duration) float64 {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return float64(ds[len(ds)/2].Microseconds()) / 1e3
}
