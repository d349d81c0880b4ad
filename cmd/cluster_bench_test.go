package gustcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
)

// The I/O-bound action of BenchmarkScaleOut: 50 ms of waiting, in a
// container of 256 MB, on invokers of 1024 MB: each invoker keeps at most
// 4 containers of it busy, 4/50 ms. Each takes up to 8 activations from
// each of its queues (--invoker-max-inflight), twice what it runs: with
// 4, a lone invoker (all on its home queue) had 2 waiting beside 2
// running, a wait its pool judged short (pool_line.go, sustainedWait),
// and kept 2 containers, half its ideal.
const (
	sleepAction   = `function main() { return new Promise(r => setTimeout(() => r({}), 50)) }`
	sleepMB       = 256
	sleepPerInv   = 4
	idealPerInv   = sleepPerInv * float64(time.Second) / float64(50*time.Millisecond) // invokes/s
	scaleWarmup   = 3 * time.Second
	scaleMeasured = 6 * time.Second
)

// BenchmarkScaleOut: the throughput of blocking invokes of one I/O-bound
// action (sleepAction) through one controller with 1, 2 and 3 invokers,
// each `gust serve --nats` on an external 3-node nats-server cluster (R3),
// an invoker added between measures. Figures: xK-inv/s for K invokers; the
// floor of x1 is the ideal of one invoker (4 containers / 50 ms), that of
// xK K times x1 as measured in the same run: the ratio is the share of
// ideal linear scale-up reached. xK-least-share is the activations of the
// invoker that ran the fewest over the mean (1: placement spread the work
// evenly), read from the invokers' metrics.
func BenchmarkScaleOut(b *testing.B) {
	builtGust(b)
	nc := startNATSCluster(b, 3)
	ctl := startExternalProcs(b, nc, []string{roleController})[0]
	admin := ctl.props(b)[propAdminAuth]
	action := nodeAction(sleepAction)
	action["limits"] = map[string]int{"memory": sleepMB}
	if code := ctl.call(b, "PUT", "/namespaces/_/actions/sleep", action, nil); code != http.StatusOK {
		b.Fatalf("PUT sleep: %d", code)
	}
	for range b.N {
		var one float64
		var invokers []*clusterNode
		var metrics []string // the invokers' metrics addresses
		for k := 1; k <= 3; k++ {
			metrics = append(metrics, freeAddr(b))
			inv := externalNode(b, nc, fmt.Sprintf("i%d", k), roleInvoker, "--metrics-listen", metrics[k-1],
				"--invoker-memory", fmt.Sprint(sleepPerInv*sleepMB), "--invoker-max-inflight", fmt.Sprint(2*sleepPerInv))
			if err := startNodes(b, []*clusterNode{inv}); err != nil {
				b.Fatalf("%v%s", err, allLogs([]*clusterNode{inv}))
			}
			invokers = append(invokers, inv)
			awaitInvokers(b, ctl, admin, k)
			sustain(b, ctl, k, scaleWarmup) // cold starts, and placement learns the new invoker's load
			before := activationsRun(b, metrics)
			rate := float64(sustain(b, ctl, k, scaleMeasured)) / scaleMeasured.Seconds()
			if k > 1 { // how evenly placement spread the work: 1 is even
				b.ReportMetric(leastShare(before, activationsRun(b, metrics)), fmt.Sprintf("x%d-least-share", k))
			}
			floor := idealPerInv
			if k == 1 {
				one = rate
			} else {
				floor = float64(k) * one
			}
			b.ReportMetric(rate, fmt.Sprintf("x%d-inv/s", k))
			b.ReportMetric(floor, fmt.Sprintf("floor-x%d-inv/s", k))
		}
		// The next iteration starts from one invoker again.
		for _, n := range invokers {
			n.kill()
		}
	}
}

// activationsRun reads gust_activations_total of each invoker from its
// metrics address.
func activationsRun(b *testing.B, addrs []string) []float64 {
	b.Helper()
	out := make([]float64, len(addrs))
	for i, addr := range addrs {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			b.Fatalf("metrics of invoker %d: %v", i+1, err)
		}
		text, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatalf("metrics of invoker %d: %v", i+1, err)
		}
		for line := range strings.Lines(string(text)) {
			if strings.HasPrefix(line, "gust_activations_total{") {
				f := strings.Fields(line)
				v, err := strconv.ParseFloat(f[len(f)-1], 64)
				if err != nil {
					b.Fatalf("metrics of invoker %d: %q: %v", i+1, line, err)
				}
				out[i] += v
			}
		}
	}
	return out
}

// leastShare is the activations of the invoker that ran the fewest between
// the two readings, over the mean of all.
func leastShare(before, after []float64) float64 {
	least, sum := math.Inf(1), 0.0
	for i := range after {
		d := after[i] - before[i]
		least, sum = min(least, d), sum+d
	}
	if sum == 0 {
		return 0
	}
	return least / (sum / float64(len(after)))
}

// awaitInvokers waits until ctl's cluster status lists k invokers with a
// home queue.
func awaitInvokers(b *testing.B, ctl *clusterNode, admin string, k int) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st hub.ClusterStatus
		if code, body := ctl.request(b, "GET", "/cluster", admin, nil); code == http.StatusOK && json.Unmarshal([]byte(body), &st) == nil {
			n := 0
			for _, p := range st.Processes {
				if p.Invoker != nil && p.Invoker.Queue != "" {
					n++
				}
			}
			if n == k {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 30s, the cluster does not list %d invokers", k)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sustain keeps 3 times as many blocking invokes of sleep in flight as k
// invokers run at once, for d, and returns how many were answered 200.
func sustain(b *testing.B, ctl *clusterNode, k int, d time.Duration) int64 {
	b.Helper()
	var done atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range 3 * sleepPerInv * k {
		wg.Go(func() {
			for time.Now().Before(end) {
				code, body, err := tryRequest(ctl, "POST", "/namespaces/_/actions/sleep?blocking=true", api.DevGuestKey, nil)
				if err != nil || code != http.StatusOK {
					b.Errorf("blocking invoke of sleep: %d %s %v", code, body, err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return done.Load()
}

// BenchmarkClusterLatency: the p50 of a blocking invoke of a warm action
// and of a trigger fire until its rule's activation record can be read,
// through the controller of a 3-node embedded cluster (a controller and
// two invokers, R3), against the floor of one `gust serve` alone, calls
// interleaved so that both see the machine's same spells.
func BenchmarkClusterLatency(b *testing.B) {
	builtGust(b)
	cluster := startClusterProcs(b, []string{roleController, roleInvoker, roleInvoker})[0]
	alone := newClusterNode(b, "alone", roleAll, freeAddr(b))
	if err := startNodes(b, []*clusterNode{alone}); err != nil {
		b.Fatalf("%v%s", err, allLogs([]*clusterNode{alone}))
	}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, g := range []*clusterNode{cluster, alone} {
		for _, put := range []struct {
			path string
			body any
		}{
			{"/namespaces/_/actions/hello", nodeAction(helloCode)},
			{"/namespaces/_/triggers/t", map[string]any{}},
			{"/namespaces/_/rules/r", map[string]string{"trigger": "/_/t", "action": "/_/hello"}},
		} {
			if code := g.call(b, "PUT", put.path, put.body, nil); code != http.StatusOK {
				b.Fatalf("PUT %s on %s: %d", put.path, g.name, code)
			}
		}
		for range 10 { // cold start, then warm
			warmInvoke(b, g)
			fireAndWait(b, g, tp)
		}
	}
	n := max(b.N, 200)
	var invoke, fire [2][]time.Duration // [0] cluster, [1] alone
	b.ResetTimer()
	for i := range n {
		for j := range 2 {
			side := (i + j) % 2
			g := []*clusterNode{cluster, alone}[side]
			invoke[side] = append(invoke[side], warmInvoke(b, g))
			fire[side] = append(fire[side], fireAndWait(b, g, tp))
		}
	}
	b.StopTimer()
	b.ReportMetric(percentileMs(invoke[0], 50), "invoke-p50-ms")
	b.ReportMetric(percentileMs(invoke[1], 50), "floor-invoke-p50-ms")
	b.ReportMetric(percentileMs(fire[0], 50), "fire-p50-ms")
	b.ReportMetric(percentileMs(fire[1], 50), "floor-fire-p50-ms")
}

// warmInvoke times one blocking invoke of hello on g.
func warmInvoke(b *testing.B, g *clusterNode) time.Duration {
	start := time.Now()
	if code := g.call(b, "POST", "/namespaces/_/actions/hello?blocking=true&result=true", map[string]string{"name": "x"}, nil); code != http.StatusOK {
		b.Fatalf("invoke hello on %s: %d", g.name, code)
	}
	return time.Since(start)
}
