package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Every Gust process advertises itself in the members bucket: it puts its
// entry every AdvertInterval, and the bucket forgets an entry advertTTL
// after its last put. So a process that dies, or whose node is cut off,
// drops out of the cluster's status within seconds, with nobody to tell.
const (
	membersBucket  = "GUST_MEMBERS"
	AdvertInterval = 2 * time.Second
	advertTTL      = 3 * AdvertInterval
)

// Member is what a Gust process says of itself in the members bucket.
type Member struct {
	// ID is unique per process run; the hub sets it.
	ID string `json:"id"`
	// Role is the process's --role: all, controller or invoker.
	Role string `json:"role"`
	// Server is the NATS server the process embeds, or the one it is
	// connected to; Host and PID where it runs. The hub sets them.
	Server string `json:"server"`
	Host   string `json:"host"`
	PID    int    `json:"pid"`
	// API is the URL of its API, for processes that serve one.
	API string `json:"api,omitempty"`
	// Started is when the process began to advertise, Seen its last
	// advertisement. The hub sets them.
	Started time.Time `json:"started"`
	Seen    time.Time `json:"seen"`
	// Invoker is the load of the process's invoker; nil when it runs none.
	Invoker *Load `json:"invoker,omitempty"`
}

// Load is an invoker's capacity and what it uses of it.
type Load struct {
	// CapacityMB is the memory its containers may use together, UsedMB what
	// they hold now.
	CapacityMB int `json:"capacityMB"`
	UsedMB     int `json:"usedMB"`
	// Containers is how many warm containers it keeps, Busy how many of
	// them run an activation now, InFlight how many activations it runs.
	Containers int `json:"containers"`
	Busy       int `json:"busy"`
	InFlight   int `json:"inFlight"`
	// Slots is how many activations it runs at once at most.
	Slots int `json:"slots"`
	// Queue names its home queue, where controllers send the invocations
	// of actions it keeps warm (package dispatch's placement); empty until
	// it consumes it.
	Queue string `json:"queue,omitempty"`
	// Warm is, by action ("/ns/pkg/name"), how many warm containers it
	// keeps for it.
	Warm map[string]int `json:"warm,omitempty"`
}

// openMembers opens (creating if needed) the members bucket. It is kept
// on file: a replica in memory comes back empty after its node is killed
// and restarted, and once another node is lost the bucket elects no leader
// (no process was listed for a minute in TestClusterKillUnderLoad). A
// bucket an earlier version kept in memory is dropped and made again: it
// holds only the last few seconds of advertisements.
func openMembers(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	if st, err := js.Stream(ctx, "KV_"+membersBucket); err == nil && st.CachedInfo().Config.Storage == jetstream.MemoryStorage {
		if err := js.DeleteKeyValue(ctx, membersBucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("drop bucket %s kept in memory: %w", membersBucket, err)
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      membersBucket,
		Description: "Gust processes, each advertised every few seconds; an entry expires when its process stops advertising",
		History:     1,
		TTL:         advertTTL,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", membersBucket, err)
	}
	return kv, nil
}

// serverName is the name of the NATS server the hub embeds or is
// connected to.
func (h *Hub) serverName() string {
	if h.srv != nil {
		return h.srv.Name()
	}
	return h.nc.ConnectedServerName()
}

// Advertise puts this process's entry in the members bucket every
// AdvertInterval, as self returns it, until ctx ends; then it removes the
// entry, so that a process that stops cleanly leaves the status at once.
// Each tick also notes the nodes routed to, for Status's LastSeen.
// A put that fails (the node is cut off from the cluster's majority) is
// logged and tried again at the next tick.
func (h *Hub) Advertise(ctx context.Context, self func() Member, log *slog.Logger) error {
	id := strings.ToLower(nuid.Next())
	host, _ := os.Hostname()
	started := time.Now().UTC()
	var kv jetstream.KeyValue
	failing := false
	tick := time.NewTicker(AdvertInterval)
	defer tick.Stop()
	for {
		h.noteRoutes()
		err := func() error {
			pctx, cancel := context.WithTimeout(ctx, AdvertInterval)
			defer cancel()
			if kv == nil {
				var err error
				if kv, err = openMembers(pctx, h.js); err != nil {
					return err
				}
			}
			m := self()
			m.ID, m.Server, m.Host, m.PID, m.Started, m.Seen = id, h.serverName(), host, os.Getpid(), started, time.Now().UTC()
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			_, err = kv.Put(pctx, id, b)
			return err
		}()
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			log.Warn("cannot advertise this process to the cluster; retrying", "err", err)
		case err == nil && failing:
			failing = false
			log.Info("advertising this process to the cluster again")
		}
		select {
		case <-ctx.Done():
			if kv != nil {
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				_ = kv.Purge(dctx, id)
				cancel()
			}
			return nil
		case <-tick.C:
		}
	}
}

// Members returns the processes advertised now, by role and server.
func (h *Hub) Members(ctx context.Context) ([]Member, error) {
	kv, err := h.js.KeyValue(ctx, membersBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return []Member{}, nil // no process advertised yet
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", membersBucket, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	out := []Member{}
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("read member %s: %w", k, err)
		}
		var m Member
		if json.Unmarshal(e.Value(), &m) == nil {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Member) int {
		if c := strings.Compare(a.Role, b.Role); c != 0 {
			return c
		}
		return strings.Compare(a.Server+a.ID, b.Server+b.ID)
	})
	return out, nil
}

// ClusterStatus is the state of the NATS cluster under Gust and of the
// Gust processes on it, as one process sees it.
type ClusterStatus struct {
	// Cluster is the NATS cluster's name; empty for a server alone.
	Cluster string `json:"cluster,omitempty"`
	// Server is the NATS server this answer comes from.
	Server string `json:"server"`
	// MetaLeader is the server that leads JetStream's meta group (which
	// places streams); empty when unknown (an external NATS) or when no
	// leader is elected (this server is cut off from the majority).
	MetaLeader string `json:"metaLeader,omitempty"`
	// Replicas is the replication Gust gives what it creates.
	Replicas int `json:"replicas"`
	// Nodes are the NATS servers known to JetStream.
	Nodes []Node `json:"nodes"`
	// Streams are JetStream's streams: Gust's streams, buckets (KV_*) and
	// object stores (OBJ_*).
	Streams []StreamStatus `json:"streams"`
	// Processes are the Gust processes advertised now.
	Processes []Member `json:"processes"`
	// Errors say what could not be learned (e.g. the streams, while no
	// leader is elected).
	Errors []string `json:"errors,omitempty"`
}

// Node returns the node named name, if the status lists it.
func (st ClusterStatus) Node(name string) (Node, bool) {
	for _, n := range st.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// noteRoutes records when this embedded server and the nodes it has a
// route to were last heard from (a route's last activity: a route to a
// node that is gone lingers for a few missed pings), and returns their
// names; none on an external NATS.
func (h *Hub) noteRoutes() map[string]bool {
	routed := map[string]bool{}
	if h.srv == nil {
		return routed
	}
	heard := map[string]time.Time{h.srv.Name(): time.Now()}
	routed[h.srv.Name()] = true
	if rz, err := h.srv.Routez(&server.RoutezOptions{}); err == nil {
		for _, r := range rz.Routes {
			routed[r.RemoteName] = true
			if r.LastActivity.After(heard[r.RemoteName]) {
				heard[r.RemoteName] = r.LastActivity
			}
		}
	}
	h.routedMu.Lock()
	defer h.routedMu.Unlock()
	if h.routed == nil {
		h.routed = map[string]time.Time{}
	}
	for name, at := range heard {
		if at.After(h.routed[name]) {
			h.routed[name] = at
		}
	}
	return routed
}

// routedAt is when noteRoutes last saw a route to node name; zero if never.
func (h *Hub) routedAt(name string) time.Time {
	h.routedMu.Lock()
	defer h.routedMu.Unlock()
	return h.routed[name]
}

// lastSeen is how long before now a node was last heard from, the later
// of two sightings: JetStream's active, which only the meta leader tracks
// (its followers, and a leader elected since the node was lost, read 0),
// and routed, when this process last had a route to it. It is "" when
// neither knows.
func lastSeen(active time.Duration, routed, now time.Time) string {
	since, known := active, active > 0
	if !routed.IsZero() && (!known || now.Sub(routed) < since) {
		since, known = now.Sub(routed), true
	}
	if !known {
		return ""
	}
	return since.Round(time.Millisecond).String()
}

// Node is one NATS server of the cluster.
type Node struct {
	Name string `json:"name"`
	// Online is true while the answering server has a route to it.
	Online bool `json:"online"`
	// Current is true when it is caught up with the meta group.
	Current bool `json:"current"`
	// Roles are those of the Gust processes on it.
	Roles []string `json:"roles"`
	// LastSeen is how long ago it was last heard from; empty when
	// unknown.
	LastSeen string `json:"lastSeen,omitempty"`
}

// StreamStatus is one stream's replication.
type StreamStatus struct {
	Name     string `json:"name"`
	Replicas int    `json:"replicas"`
	Leader   string `json:"leader,omitempty"`
	// Followers are the other replicas.
	Followers []Peer `json:"followers,omitempty"`
	Messages  uint64 `json:"messages"`
}

// Peer is a follower replica of a stream.
type Peer struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline,omitempty"`
	Lag     uint64 `json:"lag,omitempty"`
}

// replicaSilence is how long a stream replica may go unheard before
// Status calls it offline. Its leader hears from it at least every second
// (RAFT heartbeats).
const replicaSilence = 3 * time.Second

// statusWait bounds how long Status waits for JetStream's answers: on
// the minority side of a partition, nobody answers.
const statusWait = 5 * time.Second

// Status describes the cluster as this process sees it. What it cannot
// learn (no JetStream leader on this side of a partition) is named in
// ClusterStatus.Errors rather than failing the whole answer.
func (h *Hub) Status(ctx context.Context) ClusterStatus {
	ctx, cancel := context.WithTimeout(ctx, statusWait)
	defer cancel()
	st := ClusterStatus{Server: h.serverName(), Replicas: h.replicas, Nodes: []Node{}, Streams: []StreamStatus{}, Processes: []Member{}}
	// node finds or adds a node by name; the pointer it returns is good
	// until the next call, which may grow st.Nodes.
	node := func(name string) *Node {
		for i := range st.Nodes {
			if st.Nodes[i].Name == name {
				return &st.Nodes[i]
			}
		}
		st.Nodes = append(st.Nodes, Node{Name: name, Roles: []string{}})
		return &st.Nodes[len(st.Nodes)-1]
	}
	routed := h.noteRoutes() // the nodes this embedded server has a route to
	if h.srv != nil {
		st.Cluster = h.srv.ClusterName()
		self := Node{Name: h.srv.Name(), Online: true, Current: true, Roles: []string{}}
		if jsz, err := h.srv.Jsz(&server.JSzOptions{}); err == nil && jsz.Meta != nil {
			st.MetaLeader = jsz.Meta.Leader
			st.Nodes = make([]Node, 0, len(jsz.Meta.Replicas)+1)
			st.Nodes = append(st.Nodes, self)
			for _, p := range jsz.Meta.Replicas {
				// Only the meta leader tracks its peers' activity, and a node
				// killed outright is never marked offline: a node is online
				// while this one has a route to it.
				online := !p.Offline && routed[p.Name]
				st.Nodes = append(st.Nodes, Node{Name: p.Name, Online: online, Current: p.Current && online, Roles: []string{},
					LastSeen: lastSeen(p.Active, h.routedAt(p.Name), time.Now())})
			}
		} else {
			st.Nodes = append(st.Nodes, self)
		}
		if st.MetaLeader == "" && !h.srv.JetStreamIsClustered() {
			st.MetaLeader = h.srv.Name()
		}
	}
	streams := h.js.ListStreams(ctx)
	for info := range streams.Info() {
		s := StreamStatus{Name: info.Config.Name, Replicas: info.Config.Replicas, Messages: info.State.Msgs}
		if c := info.Cluster; c != nil {
			s.Leader = c.Leader
			for _, p := range c.Replicas {
				f := Peer{Name: p.Name, Current: p.Current, Offline: p.Offline, Lag: p.Lag}
				// JetStream calls a replica current until it has been silent
				// for 10 s, and offline only once its server is known gone,
				// which takes far longer after a kill -9: a replica on a
				// node this one has no route to, or silent for longer than
				// replicaSilence, is offline now.
				if (h.srv != nil && !routed[p.Name]) || p.Active > replicaSilence {
					f.Offline, f.Current = true, false
				}
				s.Followers = append(s.Followers, f)
			}
		}
		st.Streams = append(st.Streams, s)
	}
	if err := streams.Err(); err != nil {
		st.Errors = append(st.Errors, "streams: "+err.Error())
	}
	slices.SortFunc(st.Streams, func(a, b StreamStatus) int { return strings.Compare(a.Name, b.Name) })
	members, err := h.Members(ctx)
	if err != nil {
		st.Errors = append(st.Errors, "processes: "+err.Error())
	} else {
		st.Processes = members
	}
	if h.srv == nil { // an external NATS: the nodes are those the streams and processes name
		for _, s := range st.Streams {
			if s.Leader != "" {
				n := node(s.Leader)
				n.Online, n.Current = true, true
			}
			for _, p := range s.Followers {
				n := node(p.Name)
				n.Online, n.Current = n.Online || !p.Offline, n.Current || p.Current
			}
		}
	}
	for _, m := range st.Processes {
		n := node(m.Server)
		n.Online = true // its process advertised through it a moment ago
		if !slices.Contains(n.Roles, m.Role) {
			n.Roles = append(n.Roles, m.Role)
		}
	}
	slices.SortFunc(st.Nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return st
}
