package gustcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gusthub/gust/hub"
)

// TestClusterKillUnderLoad (issue 19): a controller (n1) and two invokers
// (n2, n3) on a 3-node embedded cluster, R3, take 2,000 non-blocking
// invokes and 2,000 trigger fires (a rule to a warm action), 16 at a time,
// through the controller. Halfway, the invoker that leads the event stream
// (else n3) is killed -9; `gust cluster status` must show it lost; it is
// started again (on its data dir) while the load goes on. At three
// quarters, the node that leads the event stream then is killed -9: with
// the first node back, the cluster keeps its majority, so this is the loss
// of a stream leader under load, not a minority. When that node is the
// controller's, the API is gone with it: the requests that got no answer
// are counted, and the controller is started again before the last
// quarter (so the rule engine dies with events in flight, and must not run
// them twice when they come back); else status must show it lost, and the
// last quarter runs on the one invoker left.
//
// Then every accepted (202) invoke and fire must have exactly one
// activation record of the action, its own; what was refused (503, 429)
// or got no answer is counted and reported, and may have run at most once.
// The action also appends its activation id to a file, which counts runs:
// a run twice is allowed only for an activation one of whose runs was on a
// killed node (it died before storing the record: at least once).
func TestClusterKillUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("3-process cluster under load; -short")
	}
	began := time.Now()
	nodes := startClusterProcs(t, []string{roleController, roleInvoker, roleInvoker})
	ctl := nodes[0]
	props := ctl.props(t)
	admin, guest := props[propAdminAuth], props[propAuth]
	waiting := ""
	st := awaitClusterStatus(t, ctl, admin, "2 invokers with a home queue, every stream R3 with a leader", func(st hub.ClusterStatus) bool {
		queues := 0
		for _, p := range st.Processes {
			if p.Invoker != nil && p.Invoker.Queue != "" {
				queues++
			}
		}
		for _, s := range st.Streams {
			if s.Replicas != 3 || s.Leader == "" {
				waiting = fmt.Sprintf("stream %+v", s)
				return false
			}
		}
		if queues != 2 || len(st.Streams) == 0 {
			waiting = fmt.Sprintf("%d home queues, %d streams, errors %q", queues, len(st.Streams), st.Errors)
			return false
		}
		return true
	})

	t.Logf("streams placed and led, %v (last waited for: %s)", time.Since(began).Round(100*time.Millisecond), waiting)
	runs := filepath.Join(t.TempDir(), "runs")
	ctl.mustRequest(t, http.StatusOK, "PUT", "/namespaces/_/actions/noop", guest, map[string]any{
		"exec":       map[string]any{"kind": "nodejs:default", "code": runsCode},
		"parameters": []map[string]any{{"key": "runs", "value": runs}},
	})
	ctl.mustRequest(t, http.StatusOK, "PUT", "/namespaces/_/triggers/tick", guest, map[string]any{})
	ctl.mustRequest(t, http.StatusOK, "PUT", "/namespaces/_/rules/tick-noop", guest, map[string]string{"trigger": "/_/tick", "action": "/_/noop"})
	t.Logf("entities created, %v", time.Since(began).Round(100*time.Millisecond))
	ctl.mustRequest(t, http.StatusOK, "POST", "/namespaces/_/actions/noop?blocking=true", guest, map[string]int{"n": -1}) // warm
	t.Logf("cluster ready and set up in %v", time.Since(began).Round(100*time.Millisecond))

	first, led := nodes[2], "not "+hub.EventsStream
	switch streamLeader(st, hub.EventsStream) {
	case nodes[1].name:
		first, led = nodes[1], hub.EventsStream
	case nodes[2].name:
		led = hub.EventsStream
	}
	ld := newKillLoad(ctl, guest, 2000, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ld.run(ctx)
	loadBegan := time.Now()

	<-ld.reached(len(ld.reqs) / 2)
	first.kill()
	t.Logf("%v into the load, %d answered: killed %s (%s), which led %s", time.Since(loadBegan).Round(100*time.Millisecond),
		ld.answeredNow(), first.name, first.role, led)
	assertNodeLost(t, ctl, admin, first.name)
	first.restart(t)
	t.Logf("%s started again, %v into the load", first.name, time.Since(loadBegan).Round(100*time.Millisecond))

	<-ld.reached(3 * len(ld.reqs) / 4)
	st = awaitClusterStatus(t, ctl, admin, "3 nodes online, "+hub.EventsStream+" led", func(st hub.ClusterStatus) bool {
		online := 0
		for _, n := range st.Nodes {
			if n.Online {
				online++
			}
		}
		return online == 3 && streamLeader(st, hub.EventsStream) != ""
	})
	var second *clusterNode
	for _, n := range nodes {
		if n.name == streamLeader(st, hub.EventsStream) {
			second = n
		}
	}
	if second == nil {
		t.Fatalf("%s is led by %q, not a node of the test", hub.EventsStream, streamLeader(st, hub.EventsStream))
	}
	second.kill()
	t.Logf("%v into the load, %d answered: killed %s (%s), the leader of %s", time.Since(loadBegan).Round(100*time.Millisecond),
		ld.answeredNow(), second.name, second.role, hub.EventsStream)
	if second == ctl {
		ctl.restart(t) // the API is back where the clients know it
		t.Logf("%s started again, %v into the load", ctl.name, time.Since(loadBegan).Round(100*time.Millisecond))
	}
	close(ld.gate)
	if second != ctl {
		assertNodeLost(t, ctl, admin, second.name)
	}
	ld.wait()
	t.Logf("load sent in %v", time.Since(loadBegan).Round(100*time.Millisecond))

	res := ld.check(t, runs, map[string]bool{containerOwner(first.dir): true, containerOwner(second.dir): true})
	t.Logf("invokes: %s", res.invokes)
	t.Logf("fires:   %s", res.fires)
	t.Logf("runs: %d, of which %d again after a kill -9 (at least once for what the killed node was running)", res.runs, res.reruns)
	t.Logf("every accepted invoke and fire has its one record %v after the load began; the test took %v",
		time.Since(loadBegan).Round(100*time.Millisecond), time.Since(began).Round(100*time.Millisecond))
}

// runsCode is the no-op action of TestClusterKillUnderLoad: it returns its
// parameter n, and appends its activation id and container directory to
// the file runs names (one write, atomic with O_APPEND), which counts its
// runs whatever the records say.
const runsCode = `const fs = require('fs');
function main(p) {
  fs.appendFileSync(p.runs, process.env.__OW_ACTIVATION_ID + ' ' + process.cwd() + '\n');
  return {n: p.n};
}`

// streamLeader is the node that leads stream name in st.
func streamLeader(st hub.ClusterStatus, name string) string {
	for _, s := range st.Streams {
		if s.Name == name {
			return s.Leader
		}
	}
	return ""
}

// assertNodeLost waits until GET /api/v1/cluster on ctl shows node name
// lost, and checks that it and `gust cluster status` tell the truth: the
// node offline with no process, no stream led by it, and the meta leader
// another node.
func assertNodeLost(t *testing.T, ctl *clusterNode, admin, name string) {
	t.Helper()
	lost := time.Now()
	st := awaitClusterStatus(t, ctl, admin, name+" shown lost", func(st hub.ClusterStatus) bool {
		n, ok := st.Node(name)
		if !ok || n.Online || len(n.Roles) != 0 || st.MetaLeader == "" || st.MetaLeader == name || len(st.Processes) != 2 {
			return false
		}
		for _, s := range st.Streams {
			if s.Leader == "" || s.Leader == name {
				return false
			}
		}
		return true
	})
	t.Logf("%s shown lost %v after kill -9", name, time.Since(lost).Round(100*time.Millisecond))
	for _, s := range st.Streams {
		for _, p := range s.Followers {
			if p.Name == name && p.Current && !p.Offline {
				t.Errorf("stream %s shows its replica on the lost node %s current and online: %+v", s.Name, name, p)
			}
		}
	}
	for _, p := range st.Processes {
		if p.Server == name {
			t.Errorf("process %+v still advertised on the lost node %s", p, name)
		}
	}
	out := clusterStatusCLI(t, ctl)
	if !regexp.MustCompile(`(?m)^`+name+`\s+offline`).MatchString(out) || strings.Contains(out, name+" (current)") {
		t.Errorf("gust cluster status does not show %s offline, or its replicas current:\n%s", name, out)
	}
}

// killLoad is TestClusterKillUnderLoad's load: invokes and fires of the
// action noop, interleaved, each with its own parameter n.
type killLoad struct {
	ctl     *clusterNode
	auth    string
	workers int
	reqs    []loadReq
	next    atomic.Int64
	wg      sync.WaitGroup
	// The requests from gateFrom on wait for gate: the last quarter, but
	// for those in flight when three quarters are answered, waits for the
	// second kill.
	gate     chan struct{}
	gateFrom int

	mu          sync.Mutex
	answered    int
	milestones  map[int]chan struct{}
	unexpected  []string
	unexpectedN int
}

// loadReq is one request of the load and what it got.
type loadReq struct {
	fire bool
	n    int
	code int    // 0: no answer
	id   string // the activation id of a 202
	err  error
}

func (r loadReq) kind() string {
	if r.fire {
		return "fire"
	}
	return "invoke"
}

func newKillLoad(ctl *clusterNode, auth string, each, workers int) *killLoad {
	ld := &killLoad{ctl: ctl, auth: auth, workers: workers, milestones: map[int]chan struct{}{}}
	for i := range 2 * each {
		ld.reqs = append(ld.reqs, loadReq{fire: i%2 == 1, n: i / 2})
	}
	ld.gate, ld.gateFrom = make(chan struct{}), 3*len(ld.reqs)/4+2*workers
	return ld
}

// reached returns a channel closed once k requests were answered (or
// failed).
func (ld *killLoad) reached(k int) <-chan struct{} {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	c := make(chan struct{})
	if ld.answered >= k {
		close(c)
	} else {
		ld.milestones[k] = c
	}
	return c
}

// run sends the requests, workers at a time, until all are sent or ctx
// ends; wait waits for it.
func (ld *killLoad) run(ctx context.Context) {
	for range ld.workers {
		ld.wg.Go(func() {
			for {
				i := int(ld.next.Add(1) - 1)
				if i >= len(ld.reqs) {
					return
				}
				if i >= ld.gateFrom {
					select {
					case <-ld.gate:
					case <-ctx.Done():
						return
					}
				}
				ld.send(&ld.reqs[i])
				ld.mu.Lock()
				ld.answered++
				if c, ok := ld.milestones[ld.answered]; ok {
					close(c)
					delete(ld.milestones, ld.answered)
				}
				ld.mu.Unlock()
			}
		})
	}
}

func (ld *killLoad) wait() { ld.wg.Wait() }

func (ld *killLoad) answeredNow() int {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return ld.answered
}

// send makes request r and keeps what it got.
func (ld *killLoad) send(r *loadReq) {
	path := "/namespaces/_/actions/noop"
	if r.fire {
		path = "/namespaces/_/triggers/tick"
	}
	code, body, err := ld.ctl.do("POST", path, ld.auth, map[string]int{"n": r.n})
	r.code, r.err = code, err
	if code == http.StatusAccepted {
		var a struct {
			ActivationID string `json:"activationId"`
		}
		if json.Unmarshal([]byte(body), &a) != nil || a.ActivationID == "" {
			r.code = -1 // not a 202 of OpenWhisk's shape
		}
		r.id = a.ActivationID
	}
	if r.code != http.StatusAccepted && r.code != http.StatusServiceUnavailable && r.code != http.StatusTooManyRequests && err == nil {
		ld.mu.Lock()
		if ld.unexpectedN++; ld.unexpectedN <= 5 {
			ld.unexpected = append(ld.unexpected, fmt.Sprintf("POST %s n=%d: %d %s", path, r.n, code, body))
		}
		ld.mu.Unlock()
	}
}

// loadTally counts what one kind of request got, and its records.
type loadTally struct {
	accepted, ran, duplicates, unavailable, throttled, unanswered, refusedRan int
}

func (c loadTally) String() string {
	return fmt.Sprintf("%d accepted, %d of them ran (one record each), %d duplicate records; refused: %d with 503, %d with 429, %d without an answer; %d refused or unanswered ran anyway",
		c.accepted, c.ran, c.duplicates, c.unavailable, c.throttled, c.unanswered, c.refusedRan)
}

type killResult struct {
	invokes, fires loadTally
	runs, reruns   int
}

// check waits until every accepted request has its record, then counts.
// killed are the container owners of the nodes killed.
func (ld *killLoad) check(t *testing.T, runsFile string, killed map[string]bool) killResult {
	t.Helper()
	if n := ld.unexpectedN; n > 0 {
		t.Errorf("%d requests got another answer than 202, 503 or 429, e.g. %s", n, strings.Join(ld.unexpected, "; "))
	}
	var res killResult
	tally := func(r loadReq) *loadTally {
		if r.fire {
			return &res.fires
		}
		return &res.invokes
	}
	for _, r := range ld.reqs {
		c := tally(r)
		switch {
		case r.code == http.StatusAccepted:
			c.accepted++
		case r.code == http.StatusServiceUnavailable:
			c.unavailable++
		case r.code == http.StatusTooManyRequests:
			c.throttled++
		case r.err != nil:
			c.unanswered++
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		recs, ok := listRecords(t, ld.ctl, ld.auth, "noop")
		// A record is an invoke's when it has no cause, a fire's when
		// its cause is the trigger's activation.
		type key struct {
			fire bool
			n    int
		}
		byKey := map[key][]record{}
		seen := map[string]bool{}
		for _, r := range recs {
			if seen[r.ActivationID] {
				continue // listed twice: pages shift while records arrive
			}
			seen[r.ActivationID] = true
			var out struct {
				N *int `json:"n"`
			}
			if json.Unmarshal(r.Response.Result, &out) != nil || out.N == nil {
				t.Fatalf("record %s has no n: %s", r.ActivationID, r.Response.Result)
			}
			if *out.N >= 0 {
				k := key{r.Cause != "", *out.N}
				byKey[k] = append(byKey[k], r)
			}
		}
		res.invokes.ran, res.fires.ran, res.invokes.duplicates, res.fires.duplicates = 0, 0, 0, 0
		res.invokes.refusedRan, res.fires.refusedRan = 0, 0
		var missing []string
		for _, r := range ld.reqs {
			c, got := tally(r), byKey[key{r.fire, r.n}]
			if len(got) > 1 {
				c.duplicates += len(got) - 1
			}
			if r.code != http.StatusAccepted {
				if len(got) > 0 {
					c.refusedRan++
				}
				continue
			}
			for _, g := range got {
				if mine := g.ActivationID == r.id || g.Cause == r.id; !mine {
					t.Fatalf("request %+v has the record of another: %+v", r, g)
				}
			}
			if len(got) > 0 {
				c.ran++
			} else {
				missing = append(missing, fmt.Sprintf("%s %d (%s)", r.kind(), r.n, r.id))
			}
		}
		if ok && len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes, %d accepted requests have no record, e.g. %v\ninvokes: %s\nfires: %s",
				len(missing), missing[:min(5, len(missing))], res.invokes, res.fires)
		}
		time.Sleep(time.Second)
	}
	if res.invokes.duplicates+res.fires.duplicates > 0 {
		t.Errorf("duplicate records: invokes: %s; fires: %s", res.invokes, res.fires)
	}
	res.runs, res.reruns = countRuns(t, runsFile, killed)
	return res
}

// listRecords lists every record of action through n; ok is false when
// the listing was refused (503 while leaders are elected).
func listRecords(t *testing.T, n *clusterNode, auth, action string) (recs []record, ok bool) {
	t.Helper()
	for skip := 0; ; skip += 200 {
		code, body, err := n.do("GET", fmt.Sprintf("/namespaces/_/activations?name=%s&docs=true&limit=200&skip=%d", action, skip), auth, nil)
		if err != nil || code == http.StatusServiceUnavailable {
			return recs, false
		}
		var page []record
		if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("list activations: %d %s", code, body)
		}
		recs = append(recs, page...)
		if len(page) < 200 {
			return recs, true
		}
	}
}

// countRuns reads the runs file: how many runs, and how many were a second
// run of an activation. Only an activation with a run on a killed node
// (its container owner in killed) may run more than once.
func countRuns(t *testing.T, file string, killed map[string]bool) (runs, reruns int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		id, dir, _ := strings.Cut(line, " ")
		owner := ""
		for _, el := range strings.Split(dir, string(filepath.Separator)) {
			if strings.HasPrefix(el, "gust-") {
				owner = el
			}
		}
		owners[id] = append(owners[id], owner)
		runs++
	}
	for id, on := range owners {
		if len(on) < 2 {
			continue
		}
		reruns += len(on) - 1
		onKilled := false
		for _, o := range on {
			onKilled = onKilled || killed[o]
		}
		if !onKilled {
			t.Errorf("activation %s ran %d times, on %v, none of them a killed node", id, len(on), on)
		}
	}
	return runs, reruns
}
