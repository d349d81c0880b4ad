package hub_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/hubtest"
	"github.com/gusthub/gust/internal/syncbuf"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// freePorts returns n ports free on 127.0.0.1 a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// startCluster starts n embedded nodes routed to each other, each with
// replicas (0: the default), and returns them once all are ready. A start
// that fails is tried once more on other ports: the ports are free when
// freePorts picks them, but another package's test running meanwhile may
// take one before its node listens, and a node cut off from the others
// never sees JetStream become available.
func startCluster(t *testing.T, n, replicas int) []*hub.Hub {
	t.Helper()
	hubs, err := tryCluster(t, n, replicas)
	if err != nil {
		t.Logf("cluster start failed, trying again on other ports: %v", err)
		hubs, err = tryCluster(t, n, replicas)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hubs {
		t.Cleanup(func() { h.Close() })
	}
	return hubs
}

// tryCluster is one try of startCluster; it closes what it started when
// a node fails.
func tryCluster(t *testing.T, n, replicas int) ([]*hub.Hub, error) {
	ports := freePorts(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	hubs := make([]*hub.Hub, n)
	errs := make([]error, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			hubs[i], errs[i] = hub.Start(ctx, hub.Options{
				DataDir:  t.TempDir(),
				Replicas: replicas,
				Cluster: hub.ClusterOptions{
					Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes,
					ServerName: fmt.Sprintf("n%d", i+1),
				},
			})
		})
	}
	wg.Wait()
	var failed error
	for i, err := range errs {
		if err != nil && failed == nil {
			failed = fmt.Errorf("node %d: %w", i+1, err)
		}
	}
	if failed != nil {
		for _, h := range hubs {
			if h != nil {
				h.Close()
			}
		}
		return nil, failed
	}
	return hubs, nil
}

// TestClusterReplicatesAndSurvivesANode: on a 3-node cluster every stream
// and bucket the hub creates has 3 replicas by default; a value written
// on one node is read on another, and the cluster keeps taking writes when
// the node that leads a stream is gone.
func TestClusterReplicatesAndSurvivesANode(t *testing.T) {
	hubs := startCluster(t, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	defer func() { t.Logf("took %v after the cluster started", time.Since(start)) }()
	for i, h := range hubs {
		if h.Replicas() != 3 {
			t.Errorf("node %d: replicas %d, want 3 by default on 3 nodes", i+1, h.Replicas())
		}
	}
	st, err := hub.OpenEvents(ctx, hubs[0].JetStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("events stream: replicas %d, cluster %+v; want 3 (a leader and 2 followers)", info.Config.Replicas, info.Cluster)
	}
	type thing struct{ N int }
	c1, err := hub.OpenCollection[thing](ctx, hubs[0].JetStream(), "THINGS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Put(ctx, "a", thing{N: 1}); err != nil {
		t.Fatal(err)
	}
	c3, err := hub.OpenCollection[thing](ctx, hubs[2].JetStream(), "THINGS")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := c3.Get(ctx, "a"); err != nil || v.N != 1 {
		t.Fatalf("read on node 3: %+v, %v; want N=1", v, err)
	}
	kvInfo, err := hubs[1].JetStream().Stream(ctx, "KV_THINGS")
	if err != nil {
		t.Fatal(err)
	}
	if r := kvInfo.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("bucket replicas %d, want 3", r)
	}

	// Stop the node that leads the bucket's stream: the others take over.
	leader := kvInfo.CachedInfo().Cluster.Leader
	var rest []*hub.Hub
	for i, h := range hubs {
		if fmt.Sprintf("n%d", i+1) == leader {
			h.Close()
			continue
		}
		rest = append(rest, h)
	}
	if len(rest) != 2 {
		t.Fatalf("leader %q is none of n1..n3", leader)
	}
	// Until the survivors elect new leaders, requests may go unanswered:
	// each try gets a few seconds.
	deadline := time.Now().Add(45 * time.Second)
	for {
		tctx, tcancel := context.WithTimeout(ctx, 5*time.Second)
		var c *hub.Collection[thing]
		c, err = hub.OpenCollection[thing](tctx, rest[0].JetStream(), "THINGS")
		if err == nil {
			_, err = c.Put(tctx, "b", thing{N: 2})
		}
		tcancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("write after the leader %s stopped: %v", leader, err)
	}
	c2, err := hub.OpenCollection[thing](ctx, rest[1].JetStream(), "THINGS")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := c2.Get(ctx, "a"); err != nil || v.N != 1 {
		t.Fatalf("value written before the leader stopped: %+v, %v", v, err)
	}
}

// TestReplicasLargerThanTheCluster: a server alone cannot keep 3 copies,
// and says what to do.
func TestReplicasLargerThanTheCluster(t *testing.T) {
	_, err := hub.Start(context.Background(), hub.Options{DataDir: t.TempDir(), Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), "--replicas 3") || !strings.Contains(err.Error(), "alone") {
		t.Fatalf("err = %v, want one about --replicas 3 on a server alone", err)
	}
	if _, err := hub.Start(context.Background(), hub.Options{DataDir: t.TempDir(), Replicas: -1}); err == nil {
		t.Fatal("--replicas -1 accepted")
	}
}

// TestStandaloneDataIsNotLost: a data directory of a Gust that ran alone
// is refused by a cluster node (NATS would delete its streams as orphans),
// and is intact for the next start alone.
func TestStandaloneDataIsNotLost(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h, err := hub.Start(ctx, hub.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	type thing struct{ N int }
	c, err := hub.OpenCollection[thing](ctx, h.JetStream(), "THINGS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "a", thing{N: 7}); err != nil {
		t.Fatal(err)
	}
	h.Close()

	port := freePorts(t, 1)[0]
	_, err = hub.Start(ctx, hub.Options{DataDir: dir, Cluster: hub.ClusterOptions{Listen: fmt.Sprintf("127.0.0.1:%d", port)}})
	if err == nil || !strings.Contains(err.Error(), "ran alone") {
		t.Fatalf("cluster start on standalone data: err = %v, want a refusal", err)
	}

	h, err = hub.Start(ctx, hub.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, err = hub.OpenCollection[thing](ctx, h.JetStream(), "THINGS")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.Get(ctx, "a"); err != nil || v.N != 7 {
		t.Fatalf("after the refusal: %+v, %v; want N=7", v, err)
	}
}

// TestRoutesThatNeverAnswer: a node whose routes lead nowhere keeps trying
// and says so, until its context ends.
func TestRoutesThatNeverAnswer(t *testing.T) {
	ports := freePorts(t, 3)
	var logs syncbuf.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Second)
	defer cancel()
	h, err := hub.Start(ctx, hub.Options{
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Cluster: hub.ClusterOptions{
			Listen: fmt.Sprintf("127.0.0.1:%d", ports[0]),
			Routes: []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[1]), fmt.Sprintf("nats://127.0.0.1:%d", ports[2])},
		},
	})
	if err == nil {
		h.Close()
		t.Fatal("a node alone of 3 got a JetStream leader")
	}
	if ctx.Err() == nil {
		t.Fatalf("gave up before its context ended: %v", err)
	}
	if !strings.Contains(logs.String(), "waiting for the NATS cluster") {
		t.Fatalf("no word of waiting in the log:\n%s", logs.String())
	}
}

func TestBadClusterOptions(t *testing.T) {
	for name, c := range map[string]hub.ClusterOptions{
		"no port":     {Listen: "127.0.0.1:0"},
		"bad route":   {Listen: "127.0.0.1:6299", Routes: []string{"http://x"}},
		"routes only": {Routes: []string{"nats://127.0.0.1:6222"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := hub.Start(context.Background(), hub.Options{DataDir: t.TempDir(), Cluster: c}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// A cluster's consumers pull with the short expiry, one node's with
// nats.go's default (hub.PullExpiryFor says why).
func TestPullExpiryFor(t *testing.T) {
	if got := hub.PullExpiryFor(hubtest.Start(t).JetStream().Conn()); got != hub.PullExpiry {
		t.Errorf("one node: pull expiry %v, want %v", got, hub.PullExpiry)
	}
	hs := startCluster(t, 3, 3)
	if got := hub.PullExpiryFor(hs[0].JetStream().Conn()); got != hub.ClusterPullExpiry {
		t.Errorf("a cluster node: pull expiry %v, want %v", got, hub.ClusterPullExpiry)
	}
}

// TestPublishOnALeaderWithoutQuorum: a stream's leader whose two
// followers are gone takes a publish it cannot commit, and answers the
// same message id again with "in process" until it steps down. Publish
// reports that as a fault a client may try again (Unconfirmed or
// Unavailable, which the API answers with 503), never as another error.
func TestPublishOnALeaderWithoutQuorum(t *testing.T) {
	hubs := startCluster(t, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := hub.OpenEvents(ctx, hubs[0].JetStream()); err != nil {
		t.Fatal(err)
	}
	info, err := hubs[0].JetStream().Stream(ctx, hub.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	leader := info.CachedInfo().Cluster.Leader
	var survivor *hub.Hub
	for i, h := range hubs {
		if fmt.Sprintf("n%d", i+1) == leader {
			survivor = h
		} else {
			h.Close()
		}
	}
	if survivor == nil {
		t.Fatalf("leader %q is none of n1..n3", leader)
	}
	for i := range 2 {
		m := &nats.Msg{Subject: hub.EventSubject("guest", "t"), Data: []byte("x")}
		_, err := hub.Publish(ctx, survivor.JetStream(), m, jetstream.WithMsgID(fmt.Sprintf("m%d", i)))
		if !hub.Unconfirmed(err) && !hub.Unavailable(err) {
			t.Fatalf("publish %d on a leader without quorum: %v, want an error Unconfirmed or Unavailable reports", i, err)
		}
		t.Logf("publish %d: %v (unconfirmed %v)", i, err, hub.Unconfirmed(err))
	}
}
