package gustcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/hub"
)

// TestServeRejectsBadClusterFlags: a role that does not exist and more
// replicas than a server alone can keep are refused at start, naming the
// flag.
func TestServeRejectsBadClusterFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "worker"}, `--role "worker": use all, controller or invoker`},
		{[]string{"--replicas", "3"}, "--replicas 3: this NATS server runs alone"},
		{[]string{"--routes", "nats://127.0.0.1:1"}, "--routes needs --cluster-listen"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"gust", "serve", "--data-dir", t.TempDir(), "--sandbox", "process", "--listen", "127.0.0.1:0"}, tc.args...)
			err := run(context.Background(), args, func(string) string { return "" }, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestClusterControllerAndInvokers: on a 3-node embedded cluster (a
// controller and two invokers, each a process):
//   - GET /api/v1/cluster is for the admin key only, and it and `gust
//     cluster status` list the three nodes and processes with their roles,
//     the meta leader and every stream's 3 replicas;
//   - 200 invokes of one action start at most 2 cold containers across
//     the two invokers (warm affinity), and each runs once;
//   - once an invoker's process is killed, both say so within seconds, and
//     the invokes that follow all run once on the other;
//   - once the other is killed too, the controller's node is a minority
//     and refuses writes with 503.
func TestClusterControllerAndInvokers(t *testing.T) {
	nodes := startClusterProcs(t, []string{roleController, roleInvoker, roleInvoker})
	ctl := nodes[0]
	props := ctl.props(t)
	admin := props[propAdminAuth]
	if code, _ := ctl.request(t, "GET", "/cluster", "", nil); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", code)
	}
	if code, body := ctl.request(t, "GET", "/cluster", props[propAuth], nil); code != http.StatusForbidden || !strings.Contains(body, `"code"`) {
		t.Errorf("guest key: %d %s, want 403 with an OpenWhisk error", code, body)
	}
	st := awaitClusterStatus(t, ctl, admin, "3 processes on 3 nodes, R3", func(st hub.ClusterStatus) bool {
		if len(st.Processes) != 3 || len(st.Nodes) != 3 || st.MetaLeader == "" || len(st.Streams) == 0 {
			return false
		}
		for _, s := range st.Streams {
			if s.Replicas != 3 || s.Leader == "" || len(s.Followers) != 2 {
				return false
			}
		}
		return true
	})
	for i, n := range st.Nodes {
		if want := nodes[i]; n.Name != want.name || !n.Online || !slices.Equal(n.Roles, []string{want.role}) {
			t.Errorf("node %+v, want %s online with role %s", n, want.name, want.role)
		}
	}
	invokers := 0
	for _, p := range st.Processes {
		if p.Role == roleInvoker {
			invokers++
			if p.Invoker == nil || p.Invoker.CapacityMB <= 0 {
				t.Errorf("invoker %+v advertises no capacity", p)
			}
		}
	}
	if invokers != 2 {
		t.Errorf("processes %+v, want 2 invokers", st.Processes)
	}
	out := clusterStatusCLI(t, ctl)
	for _, want := range []string{"meta leader", "n1", "n2", "n3", "controller", "invoker", "KV_GUST_MEMBERS"} {
		if !strings.Contains(out, want) {
			t.Errorf("gust cluster status lacks %q:\n%s", want, out)
		}
	}

	if st.Processes[1].Invoker.Queue == "" || st.Processes[2].Invoker.Queue == "" {
		st = awaitClusterStatus(t, ctl, admin, "both invokers with a home queue", func(st hub.ClusterStatus) bool {
			return len(st.Processes) == 3 && st.Processes[1].Invoker.Queue != "" && st.Processes[2].Invoker.Queue != ""
		})
	}
	guest := props[propAuth]
	ctl.mustRequest(t, http.StatusOK, "PUT", "/namespaces/_/actions/echo", guest, nodeAction(`function main(p) { return {n: p.n} }`))
	recs := invokeMany(t, ctl, guest, "echo", 0, 200, 1, true) // one at a time: the pool itself scales out a key under concurrent load
	cold := 0
	for _, r := range recs {
		if r.has("initTime") {
			cold++
		}
	}
	t.Logf("200 invokes across 2 invokers: %d cold starts", cold)
	if cold > 2 {
		t.Errorf("200 invokes of one action started %d cold containers, want at most 2", cold)
	}

	nodes[2].kill()
	lost := time.Now()
	st = awaitClusterStatus(t, ctl, admin, "n3 shown lost", func(st hub.ClusterStatus) bool {
		n3, ok := st.Node("n3")
		return len(st.Processes) == 2 && ok && !n3.Online && len(n3.Roles) == 0
	})
	t.Logf("n3 shown lost %v after kill -9", time.Since(lost).Round(100*time.Millisecond))
	out = clusterStatusCLI(t, ctl)
	if !regexp.MustCompile(`(?m)^n3\s+offline`).MatchString(out) {
		t.Errorf("gust cluster status does not show n3 offline:\n%s", out)
	}
	invokeMany(t, ctl, guest, "echo", 200, 50, 8, false) // all on n2 now

	// n1 alone is a minority of the three: it refuses what it cannot
	// store, with 503, rather than accept it.
	nodes[1].kill()
	for _, w := range []struct{ method, path string }{
		{"PUT", "/namespaces/_/actions/another"},
		{"POST", "/namespaces/_/actions/echo"},
	} {
		code, body := ctl.request(t, w.method, w.path, guest, nodeAction(`function main() { return {} }`))
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"code"`) {
			t.Errorf("%s %s on a minority: %d %s, want 503", w.method, w.path, code, body)
		}
	}
}

// invokeMany sends count invokes of action through n, blocking or not,
// with parameters n = from, from+1, ..., concurrency at a time, and
// returns the records once each has exactly one. A blocking invoke's
// answer must be its record, with the result of its own parameters.
func invokeMany(t *testing.T, n *clusterNode, auth, action string, from, count, concurrency int, blocking bool) []record {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	path, wantCode := "/namespaces/_/actions/"+action, http.StatusAccepted
	if blocking {
		path, wantCode = path+"?blocking=true", http.StatusOK
	}
	ids := make([]string, count)
	for i := range count {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			code, body := n.request(t, "POST", path, auth, map[string]int{"n": from + i})
			var r record
			if code != wantCode || json.Unmarshal([]byte(body), &r) != nil || r.ActivationID == "" ||
				(blocking && !sameJSON(r.Response.Result, fmt.Sprintf(`{"n":%d}`, from+i))) {
				t.Errorf("invoke %d: %d %s, want %d with its activation", from+i, code, body, wantCode)
			}
			ids[i] = r.ActivationID
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Every activation has its record, and no invocation ran twice.
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var all []record
		for skip := 0; ; skip += 200 {
			code, body := n.request(t, "GET", fmt.Sprintf("/namespaces/_/activations?name=%s&docs=true&limit=200&skip=%d", action, skip), auth, nil)
			if code == http.StatusServiceUnavailable {
				break // leaders are being elected after a node was lost: the next round tries again
			}
			var page []record
			if err := json.Unmarshal([]byte(body), &page); err != nil {
				t.Fatalf("list activations: %v: %s", err, body)
			}
			all = append(all, page...)
			if len(page) < 200 {
				break
			}
		}
		var mine []record
		seen := map[string]int{}
		for _, r := range all {
			if want[r.ActivationID] {
				seen[r.ActivationID]++
				mine = append(mine, r)
			}
		}
		for id, k := range seen {
			if k > 1 {
				t.Fatalf("activation %s has %d records, want 1", id, k)
			}
		}
		if len(mine) == count {
			return mine
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes, %d of %d records", len(mine), count)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// awaitClusterStatus polls GET /api/v1/cluster on n until ok accepts it.
func awaitClusterStatus(t *testing.T, n *clusterNode, admin, what string, ok func(hub.ClusterStatus) bool) hub.ClusterStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		asked := time.Now()
		code, body := n.request(t, "GET", "/cluster", admin, nil)
		if took := time.Since(asked); took > 3*time.Second {
			t.Logf("GET /cluster on %s took %v: %d", n.name, took.Round(100*time.Millisecond), code)
		}
		var st hub.ClusterStatus
		switch {
		case code == http.StatusServiceUnavailable && time.Now().Before(deadline):
			time.Sleep(250 * time.Millisecond) // leaders are being elected after a node was lost
			continue
		case code != http.StatusOK:
			t.Fatalf("GET /cluster with the admin key: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("GET /cluster: %v: %s", err, body)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s, not %s: %s", what, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// clusterStatusCLI runs `gust cluster status` against n with its config.
func clusterStatusCLI(t *testing.T, n *clusterNode) string {
	t.Helper()
	var out bytes.Buffer
	cfg := filepath.Join(n.dir, dataDirConfig)
	getenv := func(k string) string {
		if k == "GUST_CONFIG" {
			return cfg
		}
		return ""
	}
	if err := run(context.Background(), []string{"gust", "cluster", "status"}, getenv, &out, &out); err != nil {
		t.Fatalf("gust cluster status: %v\n%s", err, out.String())
	}
	return out.String()
}
