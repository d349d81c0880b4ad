package gustcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions/proxy"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
)

// natsCluster is an external NATS for `gust serve --nats`: a cluster of
// nats-server nodes with clustered JetStream, run inside the test binary
// on loopback, as an operator's own cluster would run beside Gust.
type natsCluster struct {
	servers []*server.Server
	urls    []string // client URLs, in the order of servers
}

// startNATSCluster starts n nats-server nodes routed to each other, each
// with JetStream on its own store dir, and returns once their JetStream
// has a meta leader. They are shut down when the test ends.
func startNATSCluster(t testing.TB, n int) *natsCluster {
	t.Helper()
	ports := freeLoopbackPorts(t, 2*n)
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[2*i+1]))
	}
	c := &natsCluster{}
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("x%d", i+1),
			Host:       "127.0.0.1", Port: ports[2*i],
			JetStream: true, StoreDir: t.TempDir(),
			JetStreamMaxMemory: hub.DefaultMaxMemory, JetStreamMaxStore: hub.DefaultMaxStore, // as an embedded node: Gust reserves room for its streams
			Cluster: server.ClusterOpts{Name: "external", Host: "127.0.0.1", Port: ports[2*i+1]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
			NoSigs:  true, NoLog: true,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("nats-server x%d: %v", i+1, err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats-server x%d not ready for connections", i+1)
		}
		c.servers = append(c.servers, s)
		c.urls = append(c.urls, s.ClientURL())
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c.metaLeader() >= 0 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %d nats-server nodes elected no JetStream meta leader in 60s", n)
		}
	}
}

// url is the --nats value naming every node.
func (c *natsCluster) url() string { return strings.Join(c.urls, ",") }

// metaLeader is the index of the node leading JetStream's meta group, or -1.
func (c *natsCluster) metaLeader() int {
	for i, s := range c.servers {
		if s.Running() && s.JetStreamIsLeader() {
			return i
		}
	}
	return -1
}

// streamLeader is the index of the running node leading stream, or -1.
func (c *natsCluster) streamLeader(stream string) int {
	for i, s := range c.servers {
		if s.Running() && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// startExternalProcs starts one `gust serve --nats` process per role, as
// nodes g1, g2, ... on the external NATS c with R3, each with its own API
// port and data dir, plus extra flags; it returns once each is ready.
// The processes are killed when the test ends.
func startExternalProcs(t testing.TB, c *natsCluster, roles []string, extra ...string) []*clusterNode {
	t.Helper()
	nodes := make([]*clusterNode, len(roles))
	for i, role := range roles {
		nodes[i] = externalNode(t, c, fmt.Sprintf("g%d", i+1), role, extra...)
	}
	t.Cleanup(func() { noActionsLeft(t, nodes) }) // after the kills that startNodes registers
	if err := startNodes(t, nodes); err != nil {
		t.Fatalf("%v%s", err, allLogs(nodes))
	}
	return nodes
}

// externalNode returns, not started, a `gust serve --nats` node on c with R3.
func externalNode(t testing.TB, c *natsCluster, name, role string, extra ...string) *clusterNode {
	return newClusterNode(t, name, role, freeAddr(t), append([]string{"--nats", c.url(), "--replicas", "3"}, extra...)...)
}

// noActionsLeft fails the test when an action process of nodes outlives
// them, and kills it.
func noActionsLeft(t testing.TB, nodes []*clusterNode) {
	for pid, n := range actionProcs(nodes) {
		t.Errorf("the action process %d of %s outlived it", pid, n.name)
		killActions([]int{pid})
	}
}

// actionProcs finds the running action processes of the process sandbox
// that nodes started: proxies whose socket is under their owner's
// directory.
func actionProcs(nodes []*clusterNode) map[int]*clusterNode {
	found := map[int]*clusterNode{}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.HasPrefix(b, []byte(proxy.ProgramName+"\x00")) {
			continue
		}
		for _, n := range nodes {
			if bytes.Contains(b, []byte(string(filepath.Separator)+containerOwner(n.dir)+string(filepath.Separator))) {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
				found[pid] = n
			}
		}
	}
	return found
}

// TestExternalNATSCluster: one controller and two invokers, each a `gust
// serve --nats URL1,URL2,URL3 --replicas 3` process, on an external
// 3-node nats-server cluster:
//   - every stream Gust creates there has 3 replicas;
//   - a blocking invoke is answered through the controller, which runs no
//     invoker, with its own result: another process ran it;
//   - 200 invokes of one action start at most 2 cold containers (warm
//     affinity);
//   - 2,000 invokes and 2,000 trigger fires, 1,000 of each sent while an
//     invoker is killed with SIGKILL, then while the NATS node that leads the event stream is
//     shut down, each run exactly once when they were accepted (2xx), and
//     at most once when not;
//   - then the cluster status shows that node offline, the event stream
//     led by another, and the killed invoker gone;
//   - what is refused under those faults is refused with 503, not 500;
//   - no action process outlives the test.
func TestExternalNATSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 NATS nodes and 3 gust processes; -short")
	}
	nc := startNATSCluster(t, 3)
	nodes := startExternalProcs(t, nc, []string{roleController, roleInvoker, roleInvoker})
	ctl := nodes[0]
	props := ctl.props(t)
	admin, guest := props[propAdminAuth], props[propAuth]
	st := awaitClusterStatus(t, ctl, admin, "two invokers with a home queue, every stream R3", func(st hub.ClusterStatus) bool {
		queues := 0
		for _, p := range st.Processes {
			if p.Role == roleInvoker && p.Invoker != nil && p.Invoker.Queue != "" {
				queues++
			}
		}
		for _, s := range st.Streams {
			if s.Replicas != 3 {
				return false
			}
		}
		return queues == 2 && len(st.Streams) > 0 && st.Replicas == 3
	})
	for _, p := range st.Processes {
		if p.Role == roleController && p.Invoker != nil {
			t.Errorf("the controller %+v advertises an invoker", p)
		}
	}

	echo := `function main(p) { return {n: p.n} }`
	ctl.mustRequest(t, http.StatusOK, "PUT", "/namespaces/_/actions/echo", guest, nodeAction(echo))
	var r record
	body := ctl.mustRequest(t, http.StatusOK, "POST", "/namespaces/_/actions/echo?blocking=true", guest, map[string]int{"n": -1})
	if err := json.Unmarshal([]byte(body), &r); err != nil || !sameJSON(r.Response.Result, `{"n":-1}`) {
		t.Fatalf("blocking invoke through the controller: %s, want its record with result {\"n\":-1}", body)
	}

	recs := append(invokeMany(t, ctl, guest, "echo", 0, 199, 1, true), r)
	if cold := coldStarts(recs); cold > 2 {
		t.Errorf("200 invokes of one action across 2 invokers started %d cold containers, want at most 2", cold)
	} else {
		t.Logf("200 invokes across 2 invokers: %d cold starts", cold)
	}

	if len(actionProcs(nodes)) == 0 { // else the check for leftovers at the end would see none either
		t.Error("no action process of the invokers found while they keep echo warm")
	}

	// Fires of trigger t run action fired through rule r.
	ctl.mustRequest(t, http.StatusOK, "PUT", "/namespaces/_/actions/fired", guest, nodeAction(echo))
	ctl.mustRequest(t, http.StatusOK, "PUT", "/namespaces/_/triggers/t", guest, map[string]any{})
	ctl.mustRequest(t, http.StatusOK, "PUT", "/namespaces/_/rules/r", guest, map[string]string{"trigger": "/_/t", "action": "/_/fired"})

	// The invoker killed is the one that keeps echo warm: it has work.
	victim := warmest(t, ctl, admin, nodes[1:], "/guest/echo")
	load := &faultLoad{n: ctl, auth: guest, nodes: nodes, queue: func(ids []string) string { return queueState(nc, ids) }}
	// 2,000 invokes and 2,000 fires in all, as the scenario: 1,000
	// of each around each fault.
	load.run(t, 1000, 1000, func() {
		victim.kill()
		t.Logf("killed invoker %s, which kept echo warm, with SIGKILL", victim.name)
	})
	leader := nc.streamLeader(hub.EventsStream)
	if leader < 0 {
		t.Fatalf("no node leads %s", hub.EventsStream)
	}
	load.run(t, 3000, 1000, func() {
		nc.servers[leader].Shutdown()
		t.Logf("shut down NATS node x%d, the leader of %s", leader+1, hub.EventsStream)
	})
	// The status tells the truth: the node is offline, another leads the
	// event stream, the killed invoker is gone.
	down := nc.servers[leader].Name()
	awaitClusterStatus(t, ctl, admin, down+" offline, "+hub.EventsStream+" led by another node, 2 processes", func(st hub.ClusterStatus) bool {
		n, ok := st.Node(down)
		moved := false
		for _, s := range st.Streams {
			moved = moved || (s.Name == hub.EventsStream && s.Leader != "" && s.Leader != down)
		}
		return ok && !n.Online && moved && len(st.Processes) == 2
	})
	load.check(t)
	if load.internal > 0 { // a refusal is a 503 the client may try again
		t.Errorf("%d requests refused with 500; the controller's errors:\n%s", load.internal, grepLines(ctl.logs.String(), "level=ERROR"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// warmest is the node of invokers that keeps the most warm containers of
// action, by the cluster status (processes are known by their pid).
func warmest(t *testing.T, ctl *clusterNode, admin string, invokers []*clusterNode, action string) *clusterNode {
	t.Helper()
	var best *clusterNode
	most := 0
	awaitClusterStatus(t, ctl, admin, "an invoker with warm "+action, func(st hub.ClusterStatus) bool {
		for _, p := range st.Processes {
			for _, n := range invokers {
				if p.PID == n.cmd.Process.Pid && p.Invoker != nil && p.Invoker.Warm[action] > most {
					best, most = n, p.Invoker.Warm[action]
				}
			}
		}
		return best != nil
	})
	return best
}

// coldStarts counts the records of cold starts (with an initTime).
func coldStarts(recs []record) int {
	cold := 0
	for _, r := range recs {
		if r.has("initTime") {
			cold++
		}
	}
	return cold
}

// faultLoad sends non-blocking invokes of action echo and fires of trigger
// t (whose rule runs action fired) through n, both with a parameter n that
// the actions return, and remembers which were accepted, to check that
// each of those ran exactly once.
type faultLoad struct {
	n    *clusterNode
	auth string

	mu       sync.Mutex
	nodes    []*clusterNode            // whose logs a failure shows
	queue    func(ids []string) string // where the queue has those activations, for a failure
	invokes  map[int]string            // n → activation id, accepted
	fires    map[int]string            // n → the trigger's activation id, accepted
	refused  int
	internal int      // refused with 500
	refusals []string // a few, for the log
}

// run sends count invokes and count fires with parameters from, from+1,
// ..., 8 at a time, and calls fault once a third of them are sent.
func (l *faultLoad) run(t *testing.T, from, count int, fault func()) {
	t.Helper()
	l.mu.Lock()
	if l.invokes == nil {
		l.invokes, l.fires = map[int]string{}, map[int]string{}
	}
	l.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range 2 * count {
		if i == 2*count/3 {
			fault()
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			k := from + i/2
			path := "/namespaces/_/actions/echo"
			if i%2 == 1 {
				path = "/namespaces/_/triggers/t"
			}
			code, body, err := tryRequest(l.n, "POST", path, l.auth, map[string]int{"n": k})
			var id struct {
				ActivationID string `json:"activationId"`
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			if err != nil || code != http.StatusAccepted || json.Unmarshal([]byte(body), &id) != nil || id.ActivationID == "" {
				l.refused++
				if code == http.StatusInternalServerError {
					l.internal++
				}
				if len(l.refusals) < 5 {
					l.refusals = append(l.refusals, fmt.Sprintf("POST %s n=%d: %d %s %v", path, k, code, strings.TrimSpace(body), err))
				}
				return
			}
			if i%2 == 0 {
				l.invokes[k] = id.ActivationID
			} else {
				l.fires[k] = id.ActivationID
			}
		})
	}
	wg.Wait()
}

// check waits until every accepted invoke and fire has its action's
// record, failing on any parameter that ran twice, and on accepted ones
// missing after 2 minutes.
func (l *faultLoad) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("%d invokes and %d fires accepted, %d refused %q", len(l.invokes), len(l.fires), l.refused, l.refusals)
	if len(l.invokes) == 0 || len(l.fires) == 0 {
		t.Fatal("nothing accepted")
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ranInvokes, ranFires := l.ranOnce(t, "echo"), l.ranOnce(t, "fired")
		var missing []string // what has no record, and the ids to find in the logs
		for k, id := range l.invokes {
			switch got, ok := ranInvokes[k]; {
			case !ok:
				missing = append(missing, fmt.Sprintf("invoke n=%d, activation %s", k, id), id)
			case got != id:
				t.Fatalf("invoke n=%d was accepted as %s but ran as %s", k, id, got)
			}
		}
		for k, id := range l.fires {
			if _, ok := ranFires[k]; !ok {
				missing = append(missing, fmt.Sprintf("fire n=%d, trigger activation %s", k, id), id)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for i := 0; i < len(missing); i += 2 {
				fmt.Fprintf(&b, "\n  %s", missing[i])
				if code, body, err := l.n.do("GET", "/namespaces/_/activations/"+missing[i+1], l.auth, nil); err == nil {
					fmt.Fprintf(&b, "\n    its record: %d %s", code, strings.TrimSpace(body))
				}
				for _, n := range l.nodes {
					if n.logs != nil {
						for line := range strings.Lines(grepLines(n.logs.String(), missing[i+1])) {
							fmt.Fprintf(&b, "\n    %s: %s", n.name, strings.TrimSpace(line))
						}
					}
				}
			}
			if l.queue != nil {
				var ids []string
				for i := 1; i < len(missing); i += 2 {
					ids = append(ids, missing[i])
				}
				b.WriteString(l.queue(ids))
			}
			t.Fatalf("after 2 minutes, %d accepted invokes and fires have no record:%s", len(missing)/2, b.String())
		}
		time.Sleep(time.Second)
	}
}

// ranOnce lists the records of action and returns the activation id of
// each parameter n above -1 that ran, failing when one ran twice.
func (l *faultLoad) ranOnce(t *testing.T, action string) map[int]string {
	t.Helper()
	ran := map[int]string{}
	for _, r := range activationsOf(t, l.n, l.auth, action) {
		var res struct{ N *int }
		if json.Unmarshal(r.Response.Result, &res) != nil || res.N == nil || *res.N < 0 {
			continue
		}
		// The store keeps one record per activation id (its message id, and
		// no other message before it on its subject): the same id twice is
		// a page that shifted under records still arriving, not a second run.
		if first, ok := ran[*res.N]; ok && first != r.ActivationID {
			t.Fatalf("%s ran n=%d twice: activations %s and %s", action, *res.N, first, r.ActivationID)
		}
		ran[*res.N] = r.ActivationID
	}
	return ran
}

// activationsOf lists every record of action through n, page by page; a
// page refused with 503 (leaders being elected) ends the list early.
func activationsOf(t *testing.T, n *clusterNode, auth, action string) []record {
	t.Helper()
	var all []record
	for skip := 0; ; skip += 200 {
		code, body := n.request(t, "GET", fmt.Sprintf("/namespaces/_/activations?name=%s&docs=true&limit=200&skip=%d", action, skip), auth, nil)
		if code == http.StatusServiceUnavailable {
			return all
		}
		var page []record
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("list activations of %s: %d %v: %s", action, code, err, body)
		}
		all = append(all, page...)
		if len(page) < 200 {
			return all
		}
	}
}

// tryRequest is clusterNode.request that returns a failed request as an
// error instead of failing the test (under a fault some are expected),
// with headers as name, value pairs.
func tryRequest(n *clusterNode, method, path, auth string, body any, header ...string) (int, string, error) {
	return n.do(method, path, auth, body, header...)
}

// call is gustProcess.call on a node: the request with OpenWhisk's guest
// key (the nodes run with --dev-guest-key), its JSON answer into out.
func (n *clusterNode) call(t testing.TB, method, path string, body any, out any, header ...string) int {
	t.Helper()
	code, resp, err := tryRequest(n, method, path, api.DevGuestKey, body, header...)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
	if out != nil && resp != "" {
		if err := json.Unmarshal([]byte(resp), out); err != nil {
			t.Fatalf("%s %s on %s: %d %s: %v", method, path, n.name, code, resp, err)
		}
	}
	return code
}

// queueState tells, for a failure, what the invocation queue holds of
// the activations ids (the messages that name them, by sequence and
// subject) and the state of its consumers.
func queueState(c *natsCluster, ids []string) string {
	nc, err := nats.Connect(c.url())
	if err != nil {
		return "\n  queue: " + err.Error()
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "\n  queue: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, hub.InvocationsStream)
	if err != nil {
		return "\n  queue: " + err.Error()
	}
	var b strings.Builder
	info := st.CachedInfo()
	fmt.Fprintf(&b, "\n  queue %s: first %d, last %d, %d messages", hub.InvocationsStream, info.State.FirstSeq, info.State.LastSeq, info.State.Msgs)
	for ci := range st.ListConsumers(ctx).Info() {
		fmt.Fprintf(&b, "\n    consumer %s: pending %d, ack pending %d, ack floor %d, delivered %d, redelivered %d", ci.Name, ci.NumPending, ci.NumAckPending, ci.AckFloor.Stream, ci.Delivered.Stream, ci.NumRedelivered)
	}
	oc, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return b.String() + "\n  scan: " + err.Error()
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := oc.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			break
		}
		md, _ := m.Metadata()
		for _, id := range ids {
			if strings.Contains(string(m.Data()), id) {
				fmt.Fprintf(&b, "\n    %s is message %d on %s", id, md.Sequence.Stream, m.Subject())
			}
		}
		if md.Sequence.Stream >= info.State.LastSeq {
			break
		}
	}
	return b.String()
}
