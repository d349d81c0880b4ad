package gustcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
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

// TestClusterStatus: on a 3-node embedded cluster (a controller and two
// invokers), GET /api/v1/cluster is for the admin key only, and it and
// `gust cluster status` list the three nodes and processes with their
// roles, the meta leader and every stream's 3 replicas. Once an invoker's
// process is killed, both say so within seconds.
func TestClusterStatus(t *testing.T) {
	nodes := startClusterProcs(t, []string{roleController, roleInvoker, roleInvoker})
	ctl := nodes[0]
	props := ctl.props(t)
	admin := props[propAdminAuth]
	if code, _ := ctl.request(t, "GET", "/cluster", ""); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", code)
	}
	if code, body := ctl.request(t, "GET", "/cluster", props[propAuth]); code != http.StatusForbidden || !strings.Contains(body, `"code"`) {
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
}

// awaitClusterStatus polls GET /api/v1/cluster on n until ok accepts it.
func awaitClusterStatus(t *testing.T, n *clusterNode, admin, what string, ok func(hub.ClusterStatus) bool) hub.ClusterStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := n.request(t, "GET", "/cluster", admin)
		var st hub.ClusterStatus
		if code != http.StatusOK {
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
