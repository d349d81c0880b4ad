package hub_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
)

// advertise runs h.Advertise as role until the test ends or stop is called.
func advertise(t *testing.T, h *hub.Hub, role string, load *hub.Load) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = h.Advertise(ctx, func() hub.Member { return hub.Member{Role: role, Invoker: load} }, slog.New(slog.DiscardHandler))
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// awaitStatus polls h.Status until ok accepts it, or fails the test.
func awaitStatus(t *testing.T, h *hub.Hub, limit time.Duration, what string, ok func(hub.ClusterStatus) bool) hub.ClusterStatus {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st := h.Status(ctx)
		cancel()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still not %s: %+v", limit, what, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestStatusAlone: a server alone is its own meta leader, and lists the
// process that advertises on it with its load; a process that stops
// cleanly leaves the list at once.
func TestStatusAlone(t *testing.T) {
	alone, err := hub.Start(context.Background(), hub.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	stop := advertise(t, alone, "all", &hub.Load{CapacityMB: 1024, Warm: map[string]int{"/guest/a": 2}})
	st := awaitStatus(t, alone, 10*time.Second, "one process", func(st hub.ClusterStatus) bool { return len(st.Processes) == 1 && len(st.Streams) > 0 })
	p := st.Processes[0]
	if p.Role != "all" || p.Invoker == nil || p.Invoker.CapacityMB != 1024 || p.Invoker.Warm["/guest/a"] != 2 || p.Server != st.Server || p.PID == 0 {
		t.Errorf("process %+v (invoker %+v), want role all, 1024 MB, 2 warm of /guest/a, on server %s", p, p.Invoker, st.Server)
	}
	if st.MetaLeader != st.Server || len(st.Nodes) != 1 || !st.Nodes[0].Online || len(st.Nodes[0].Roles) != 1 {
		t.Errorf("nodes %+v, meta leader %q: want this server alone, online, leading", st.Nodes, st.MetaLeader)
	}
	if len(st.Streams) == 0 || st.Streams[0].Replicas != 1 {
		t.Errorf("streams %+v (errors %q), want the members bucket with 1 replica", st.Streams, st.Errors)
	}
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st := alone.Status(ctx); len(st.Processes) != 0 {
		t.Errorf("after a clean stop: processes %+v, want none", st.Processes)
	}
}

// TestStatusAfterANodeIsLost: on a 3-node cluster every node and process
// is listed with the meta leader and the replicas of each stream; once a
// node is gone without a word, its process leaves the status within
// seconds and its node and its stream replicas show offline.
func TestStatusAfterANodeIsLost(t *testing.T) {
	hubs := startCluster(t, 3, 0)
	roles := []string{"controller", "invoker", "invoker"}
	stops := make([]func(), 3)
	for i, h := range hubs {
		stops[i] = advertise(t, h, roles[i], nil)
	}
	st := awaitStatus(t, hubs[0], 30*time.Second, "3 processes on 3 nodes", func(st hub.ClusterStatus) bool {
		return len(st.Processes) == 3 && len(st.Nodes) == 3 && st.MetaLeader != ""
	})
	for _, s := range st.Streams {
		if s.Replicas != 3 || s.Leader == "" || len(s.Followers) != 2 {
			t.Errorf("stream %+v: want 3 replicas, a leader and 2 followers", s)
		}
	}
	for _, n := range st.Nodes {
		if !n.Online || len(n.Roles) != 1 {
			t.Errorf("node %+v: want online with one role", n)
		}
	}
	// Lose n3 without its process saying goodbye: the hub goes first.
	hubs[2].Close()
	lost := time.Now()
	st = awaitStatus(t, hubs[0], 30*time.Second, "n3 gone", func(st hub.ClusterStatus) bool {
		n3, ok := st.Node("n3")
		return len(st.Processes) == 2 && ok && !n3.Online && len(n3.Roles) == 0
	})
	t.Logf("n3 shown lost after %v", time.Since(lost).Round(100*time.Millisecond))
	// Its last sighting, not 0s: JetStream reads 0 off the meta leader.
	n3, _ := st.Node("n3")
	if d, err := time.ParseDuration(n3.LastSeen); err != nil || d <= 0 || d > time.Since(lost)+hub.AdvertInterval+time.Second {
		t.Errorf("lost n3 last seen %q ago, want about %v", n3.LastSeen, time.Since(lost).Round(time.Second))
	}
	stops[2]()
	for _, p := range st.Processes {
		if p.Server == "n3" {
			t.Errorf("process %+v of the lost node still listed", p)
		}
	}
	// JetStream calls n3's replicas current for 10 s more: the status
	// does not.
	for _, s := range st.Streams {
		for _, p := range s.Followers {
			if p.Name == "n3" && (p.Current || !p.Offline) {
				t.Errorf("stream %s: replica %+v on the lost node, want offline and not current", s.Name, p)
			}
		}
	}
}

// TestMembersBucketMovesToFile: a members bucket an earlier version kept
// in memory is made again on file when a process advertises, and lists
// it.
func TestMembersBucketMovesToFile(t *testing.T) {
	h, err := hub.Start(context.Background(), hub.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx := t.Context()
	if _, err := h.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "GUST_MEMBERS", TTL: 6 * time.Second, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	advertise(t, h, "all", nil)
	awaitStatus(t, h, 10*time.Second, "one process", func(st hub.ClusterStatus) bool { return len(st.Processes) == 1 })
	st, err := h.JetStream().Stream(ctx, "KV_GUST_MEMBERS")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.Storage; got != jetstream.FileStorage {
		t.Errorf("members bucket storage %v, want file", got)
	}
}
