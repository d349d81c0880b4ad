package gustcmd

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clusterNode is one `gust serve` process of a test cluster, a real
// process so that a test can kill -9 it.
type clusterNode struct {
	name, role string
	dir        string // data dir; its cli-config holds the API host and keys
	apiAddr    string // 127.0.0.1:port; served only by controllers and "all"
	args       []string
	cmd        *exec.Cmd
	logs       *lockedWriter
	exited     chan struct{}
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

// startClusterProcs starts one `gust serve` per role, as nodes n1, n2, ...
// of an embedded NATS cluster on loopback, each with its own ports and
// data dir, plus extra flags; it returns once every one logged that it is
// ready. The processes are killed when the test ends.
func startClusterProcs(t testing.TB, roles []string, extra ...string) []*clusterNode {
	t.Helper()
	ports := freeLoopbackPorts(t, 2*len(roles))
	var routes []string
	for i := range roles {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[2*i+1]))
	}
	nodes := make([]*clusterNode, len(roles))
	for i, role := range roles {
		n := &clusterNode{name: fmt.Sprintf("n%d", i+1), role: role, dir: t.TempDir(),
			apiAddr: fmt.Sprintf("127.0.0.1:%d", ports[2*i])}
		n.args = append([]string{"serve", "--role", role, "--data-dir", n.dir, "--listen", n.apiAddr,
			"--cluster-listen", fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]), "--routes", strings.Join(routes, ","),
			"--server-name", n.name, "--dev-guest-key", "--sandbox", "process", "--stem-cells", "0"}, extra...)
		nodes[i] = n
		n.start(t)
	}
	for _, n := range nodes {
		n.awaitReady(t)
	}
	return nodes
}

// start runs the node's process.
func (n *clusterNode) start(t testing.TB) {
	t.Helper()
	n.logs = &lockedWriter{w: &bytes.Buffer{}}
	n.cmd = exec.Command(builtGust(t), n.args...)
	n.cmd.Env = append(os.Environ(), "GUST_CONFIG="+filepath.Join(n.dir, dataDirConfig), "HOME="+n.dir)
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.exited = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() { n.kill() })
}

// readyWait bounds a cluster node's start: its nodes elect JetStream's
// leaders and place every replicated stream, slow on a busy 2-core CI.
const readyWait = 2 * time.Minute

// awaitReady waits for the node's ready line.
func (n *clusterNode) awaitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for !strings.Contains(n.logs.String(), "gust ready") {
		select {
		case <-n.exited:
			t.Fatalf("%s (%s) ended before it was ready:\n%s", n.name, n.role, n.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (%s) not ready after %v:\n%s", n.name, n.role, readyWait, n.logs.String())
		}
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (n *clusterNode) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
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
// ("user:key", or "" for none) and returns the status and body.
func (n *clusterNode) request(t testing.TB, method, path, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.apiAddr+"/api/v1"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user, key, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(user, key)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return resp.StatusCode, b.String()
}
