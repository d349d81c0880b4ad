package soak_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/internal/dockertest"
	"github.com/gusthub/gust/internal/exampletest"
)

// engineProxy stands between Gust and the Docker engine: a Unix socket
// that forwards to the engine's, which the test can take away and bring
// back. With the engine's containers killed meanwhile, that is what Gust
// sees of an engine restart, without restarting the engine that other
// tests on the machine use.
type engineProxy struct {
	path, engine string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// engineSocket is the Unix socket of the environment's Docker engine.
func engineSocket(t *testing.T) string {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		return "/var/run/docker.sock"
	}
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		t.Skipf("the engine restart scenario needs a Docker engine on a Unix socket, not DOCKER_HOST=%s", host)
	}
	return path
}

func startEngineProxy(t *testing.T) *engineProxy {
	p := &engineProxy{path: filepath.Join(t.TempDir(), "docker.sock"), engine: engineSocket(t), conns: map[net.Conn]bool{}}
	p.up(t)
	t.Cleanup(func() { p.down(); p.wg.Wait() })
	return p
}

// up listens on the proxy's socket again.
func (p *engineProxy) up(t *testing.T) {
	_ = os.Remove(p.path)
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
}

func (p *engineProxy) forward(c net.Conn) {
	e, err := net.Dial("unix", p.engine)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // went down meanwhile
		p.mu.Unlock()
		c.Close()
		e.Close()
		return
	}
	p.conns[c], p.conns[e] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(e, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, e); done <- struct{}{} }()
	<-done
	c.Close()
	e.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, e)
	p.mu.Unlock()
}

// down closes the socket and every connection through it: the engine is
// gone for Gust.
func (p *engineProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	_ = os.Remove(p.path)
}

// killContainers kills the containers of the Gust with data directory
// dir on the engine itself, as an engine restart does, and returns how
// many there were.
func killContainers(t *testing.T, engine, dir string) int {
	out, err := exec.Command("docker", "-H", "unix://"+engine, "ps", "-q", "--filter", "label=gust.owner="+containerOwner(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v %s", err, out)
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return 0
	}
	if out, err := exec.Command("docker", append([]string{"-H", "unix://" + engine, "kill"}, ids...)...).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "is not running") {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	return len(ids)
}

// The failures an engine restart may cause, and only those: an
// activation whose container died under it, or whose container (warm or
// a stem cell) was gone before it ran. One that needs a new container
// while the engine is away waits for it.
var engineFailures = []string{
	"The action did not produce a valid response and exited unexpectedly.",
	"The action did not initialize and exited unexpectedly.",
}

// TestEngineRestartSoak fires triggers and invokes an action while the
// Docker engine goes away for a few seconds and comes back without the
// containers it had: activations that were running fail with a clear
// error, the others run once, the pool makes new containers, and no
// container is left behind.
func TestEngineRestartSoak(t *testing.T) {
	cfg := loadConfig(t)
	cfg.kills = 1
	dockertest.Require(t, nil)
	p := startEngineProxy(t)
	t.Setenv("DOCKER_HOST", "unix://"+p.path) // serve's engine
	natsAddr := "127.0.0.1:" + strconv.Itoa(exampletest.FreePort(t))
	g := exampletest.Serve(t, "--sandbox", "docker", "--nats-listen", natsAddr, "--stem-cells", "1")
	s := &soak{cfg: cfg, g: g, c: newClient(g.Addr), action: "soak",
		tally: tally{accepted: map[int]string{}, unknown: map[int]bool{}}}
	// Runs of 50 ms: the engine goes away while some are running.
	s.setUp(t, `function main(p) { return new Promise(r => setTimeout(() => r({ n: p.n }), 50)) }`)
	killed := 0
	s.run(t, func(int) {
		p.down()
		killed = killContainers(t, p.engine, g.DataDir)
		time.Sleep(3 * time.Second)
		p.up(t)
	})
	s.settle(t, "nats://"+natsAddr)
	r := s.report(t, fmt.Sprintf("engine restart soak (%d fires, %d invokes, %d clients, 1 engine restart, %d containers killed)",
		cfg.fires, cfg.invokes, cfg.clients, killed), s.outcome(t))
	counts := map[string]int{}
	for _, a := range r.failed {
		msg := failureMessage(&a)
		counts[msg]++
		if !slices.Contains(engineFailures, msg) {
			t.Errorf("a run failed with an unexpected error: %s %s", a.ActivationID, a.Response.Result)
		}
	}
	for msg, n := range counts {
		t.Logf("%d failed: %s", n, msg)
	}
	// The pool recovered: the action runs again.
	var rec actions.Activation
	status, b, err := s.c.do("POST", "/api/v1/namespaces/_/actions/soak?blocking=true", nil, []byte(`{"n":-1}`))
	if err != nil || status != 200 || json.Unmarshal(b, &rec) != nil {
		t.Errorf("invoke after the engine came back: %d %v %s", status, err, b)
	}
	s.g.Stop(t)
	checkNoContainers(t, g.DataDir)
}

// failureMessage is the error of a failed record's result.
func failureMessage(a *actions.Activation) string {
	var res struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(a.Response.Result, &res); err != nil || res.Error == "" {
		return string(a.Response.Result)
	}
	return res.Error
}
