package gustcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/syncbuf"
)

// clusterNode is one `gust serve` process of a test cluster, a real
// process so that a test can kill -9 it and start it again.
type clusterNode struct {
	name, role string
	dir        string // data dir; its cli-config holds the API host and keys
	apiAddr    string // 127.0.0.1:port; served only by controllers and "all"
	args       []string
	cmd        *exec.Cmd
	logs       *syncbuf.Buffer // of every run
	logsFrom   int             // where the last run's logs begin
	exited     chan struct{}
	peers      []*clusterNode // the whole cluster, for failure messages
}

// freeLoopbackPorts returns n ports free on 127.0.0.1 a moment ago.
func freeLoopbackPorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// newClusterNode returns node name with role, its own data dir and API
// port, not started; args are its `gust serve` flags besides those.
// --sandbox process: actions run as local processes, which kill -9 of the
// node leaves behind and kill removes (killActions).
func newClusterNode(t testing.TB, name, role, apiAddr string, args ...string) *clusterNode {
	n := &clusterNode{name: name, role: role, dir: t.TempDir(), apiAddr: apiAddr}
	n.args = append([]string{"serve", "--role", role, "--data-dir", n.dir, "--listen", apiAddr,
		"--dev-guest-key", "--sandbox", "process", "--stem-cells", "0"}, args...)
	return n
}

// startClusterProcs starts one `gust serve` per role, as nodes n1, n2, ...
// of an embedded NATS cluster on loopback, each with its own ports and
// data dir, plus extra flags; it returns once every one is ready. The
// processes are killed when the test ends; their logs are shown when it
// fails, or with GUST_CLUSTER_LOGS=1.
func startClusterProcs(t testing.TB, roles []string, extra ...string) []*clusterNode {
	t.Helper()
	// A try that fails on ports taken meanwhile (freeLoopbackPorts only
	// saw them free) or a cluster that elects no leader in time is made
	// once more on fresh ports; a second failure fails the test, with
	// every node's log.
	builtGust(t) // not in the time the start takes
	for try := 1; ; try++ {
		began := time.Now()
		nodes := embeddedCluster(t, roles, extra...)
		err := startNodes(t, nodes)
		if err == nil {
			t.Logf("%d-process cluster ready in %v", len(nodes), time.Since(began).Round(100*time.Millisecond))
			t.Cleanup(func() {
				if t.Failed() || os.Getenv("GUST_CLUSTER_LOGS") != "" {
					t.Logf("logs of the cluster's nodes:%s", allLogs(nodes))
				}
			})
			return nodes
		}
		for _, n := range nodes {
			n.kill()
		}
		if try == 2 {
			t.Fatalf("a %d-process cluster did not start twice: %v%s", len(nodes), err, allLogs(nodes))
		}
		t.Logf("cluster start %d: %v; starting a fresh one:%s", try, err, allLogs(nodes))
	}
}

// embeddedCluster returns, not started, one node per role of an embedded
// NATS cluster on loopback: each routes to all (itself included, which
// NATS ignores).
func embeddedCluster(t testing.TB, roles []string, extra ...string) []*clusterNode {
	ports := freeLoopbackPorts(t, 2*len(roles))
	var routes []string
	for i := range roles {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[2*i+1]))
	}
	nodes := make([]*clusterNode, len(roles))
	for i, role := range roles {
		name := fmt.Sprintf("n%d", i+1)
		nodes[i] = newClusterNode(t, name, role, fmt.Sprintf("127.0.0.1:%d", ports[2*i]), append([]string{
			"--cluster-listen", fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]), "--routes", strings.Join(routes, ","),
			"--server-name", name}, extra...)...)
	}
	return nodes
}

// startNodes starts every node at once (nats-server v2.15.3 forms a
// cluster of nodes started together in seconds) and waits until each is
// ready, or one ended, or readyWait passed: then it says which. The
// processes are killed when the test ends.
func startNodes(t testing.TB, nodes []*clusterNode) error {
	t.Helper()
	for _, n := range nodes {
		n.peers = nodes
		if err := n.start(t); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(readyWait)
	for _, n := range nodes {
		if err := n.awaitReady(deadline); err != nil {
			return err
		}
	}
	return nil
}

// start runs the node's process; it is killed when the test ends.
func (n *clusterNode) start(t testing.TB) error {
	t.Helper()
	if n.logs == nil {
		n.logs = &syncbuf.Buffer{}
	} else { // started again: the logs go on, and its ready line is the next one
		fmt.Fprintf(n.logs, "--- %s started again\n", n.name)
		n.logsFrom = len(n.logs.String())
	}
	args := n.args
	keep := os.Getenv("GUST_TEST_NODE_LOGS") // a directory to keep the nodes' logs in, at debug level
	if keep != "" {
		args = append(args[:len(args):len(args)], "--log-level", "debug")
	}
	cmd := exec.Command(builtGust(t), args...)
	cmd.Env = append(os.Environ(), "GUST_CONFIG="+filepath.Join(n.dir, dataDirConfig), "HOME="+n.dir)
	if keep != "" {
		t.Cleanup(func() { _ = os.WriteFile(filepath.Join(keep, n.name+".log"), []byte(n.logs.String()), 0o644) })
	}
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.cmd, n.exited = cmd, exited
	t.Cleanup(n.kill)
	return nil
}

// restart starts the node again, after kill, on its data dir and ports,
// and waits until it is ready.
func (n *clusterNode) restart(t testing.TB) {
	t.Helper()
	n.kill()
	if err := n.start(t); err != nil {
		t.Fatal(err)
	}
	if err := n.awaitReady(time.Now().Add(readyWait)); err != nil {
		t.Fatalf("restart: %v%s", err, allLogs(n.peers))
	}
}

// readyWait bounds a cluster node's start: its nodes elect JetStream's
// leaders and place every replicated stream, slow on a busy 2-core CI.
const readyWait = 90 * time.Second

// awaitReady polls the node's log for its ready line until deadline; it
// fails when the process ended or the deadline passed.
func (n *clusterNode) awaitReady(deadline time.Time) error {
	for !strings.Contains(n.logs.String()[n.logsFrom:], "gust ready") {
		select {
		case <-n.exited:
			return fmt.Errorf("%s (%s) ended before it was ready", n.name, n.role)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (%s) not ready after %v", n.name, n.role, readyWait)
		}
	}
	return nil
}

// allLogs are the logs of nodes, for a failure message.
func allLogs(nodes []*clusterNode) string {
	var b strings.Builder
	for _, p := range nodes {
		if p.logs != nil {
			fmt.Fprintf(&b, "\n--- %s (%s):\n%s", p.name, p.role, p.logs.String())
		}
	}
	return b.String()
}

// kill ends the process with SIGKILL, as a crash would, waits for it, and
// kills the action processes it had started, which a crash leaves
// running. Killing a node that is not running does nothing.
func (n *clusterNode) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.exited:
		return
	default:
	}
	// Stopped first, it starts no action process between the listing of
	// its children and its end. The stop takes effect as each thread next
	// leaves the kernel, a fork in progress done: the listing waits for it
	// (CI: an action process forked meanwhile outlived its node).
	_ = n.cmd.Process.Signal(syscall.SIGSTOP)
	waitStopped(n.cmd.Process.Pid, time.Second)
	children := childPIDs(n.cmd.Process.Pid)
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
	killActions(children)
}

// waitStopped waits up to limit until every thread of pid is stopped
// (state T in /proc) or gone.
func waitStopped(pid int, limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := true
		for _, f := range stats {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // the thread ended
			}
			// The state follows the command name, which is in parentheses.
			if i := strings.LastIndexByte(string(b), ')'); i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
	}
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(s); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// killActions kills pids, children of a stopped node, with the process
// groups they lead: the process sandbox starts each action proxy in a
// group of its own, with its language process. A child caught between
// fork and exec leads no group yet and is not a proxy yet: it is killed
// too, or it would become one and outlive its node.
func killActions(pids []int) {
	for _, pid := range pids {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// props reads the CLI configuration the node keeps in its data dir.
func (n *clusterNode) props(t testing.TB) map[string]string {
	t.Helper()
	p, err := readProps(filepath.Join(n.dir, dataDirConfig))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// request sends method path (under /api/v1) to the node with auth
// ("user:key", or "" for none) and body as JSON (unless nil), and returns
// the status and body; it fails the test when no answer comes.
func (n *clusterNode) request(t testing.TB, method, path, auth string, body any) (int, string) {
	t.Helper()
	code, b, err := n.do(method, path, auth, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, b
}

// clusterClient keeps its connections to the nodes alive across requests.
var clusterClient = &http.Client{Timeout: 30 * time.Second}

// do is request without a test: an error is a request that got no
// answer (the node is down, or died while answering). header are extra
// headers as name, value pairs.
func (n *clusterNode) do(method, path, auth string, body any, header ...string) (int, string, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, "", err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+n.apiAddr+"/api/v1"+path, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if user, key, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(user, key)
	}
	resp, err := clusterClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s on %s: %w", method, path, n.name, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		return 0, "", fmt.Errorf("%s %s on %s: read the answer: %w", method, path, n.name, err)
	}
	return resp.StatusCode, b.String(), nil
}

// mustRequest is request that fails the test on another status than want.
func (n *clusterNode) mustRequest(t testing.TB, want int, method, path, auth string, body any) string {
	t.Helper()
	code, b := n.request(t, method, path, auth, body)
	if code != want {
		t.Fatalf("%s %s on %s: %d %s, want %d", method, path, n.name, code, b, want)
	}
	return b
}
