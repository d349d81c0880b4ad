package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults for the embedded JetStream limits.
const (
	DefaultMaxMemory = 256 << 20 // 256 MiB of memory-backed streams
	DefaultMaxStore  = 8 << 30   // 8 GiB of file-backed streams
)

// Options configure a Hub.
type Options struct {
	// URL connects to an external NATS server or cluster (with JetStream)
	// instead of embedding one: one URL or several separated by commas.
	// When it is set, the embedded server's fields are ignored.
	URL string
	// External holds the credentials and TLS files for URL.
	External ExternalOptions
	// DataDir holds the embedded server's JetStream store (DataDir/jetstream).
	DataDir string
	// Listen exposes the embedded server on this host:port for other
	// processes. Empty means no network listener: only in-process clients.
	Listen string
	// MaxMemory and MaxStore bound JetStream's memory and disk use in bytes;
	// zero means the defaults above.
	MaxMemory int64
	MaxStore  int64
	// DiskReserve is how many bytes of DataDir's disk Gust keeps free:
	// with less, CheckSpace reports the disk full. Zero means
	// DefaultDiskReserve; below zero turns the check off.
	DiskReserve int64
	// MQTT, when set, turns on the embedded server's MQTT listener.
	MQTT *MQTTOptions
	// Cluster makes the embedded server one node of a NATS cluster.
	Cluster ClusterOptions
	// Replicas is the replication of every stream, bucket and object store
	// created through the hub's JetStream; 0 means 1 alone and 3 on a
	// cluster of 3 servers or more. More than the cluster has is an error.
	Replicas int
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
}

// Hub is a connection to the event mesh and, when embedded, the NATS server
// behind it.
type Hub struct {
	srv      *server.Server // nil when connected to an external NATS
	nc       *nats.Conn
	js       jetstream.JetStream
	replicas int

	mqtt *MQTTListener // nil when the MQTT listener is off
	gate *mqttGate     // the devices' side of the MQTT listener
	disk *diskGuard    // nil without a data dir or with the check off

	// writeFailed is set when the embedded JetStream could not write to
	// its disk (it ran out of space): recoverWrites restarts JetStream
	// once there is room again.
	writeFailed  *atomic.Bool
	stopRecovery chan struct{}
	recovery     sync.WaitGroup

	// routed is when this process last saw a route to each NATS node
	// (noteRoutes): a lost node's last sighting, which JetStream knows
	// only on its meta leader.
	routedMu sync.Mutex
	routed   map[string]time.Time

	closeOnce sync.Once
}

// MaxMessage is the largest message the embedded NATS server takes
// (its max_payload), headers included: NATS advises against more. It
// bounds a device's MQTT message on the embedded listener too; larger
// data goes through the object stores (see InlineDataLimit).
const MaxMessage = 8 << 20

// Start starts the embedded NATS server (or connects to Options.URL) and
// returns once JetStream is ready. Close releases it.
func Start(ctx context.Context, opts Options) (*Hub, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Replicas < 0 {
		return nil, fmt.Errorf("--replicas %d: use a positive number, or 0 for the default", opts.Replicas)
	}
	if opts.URL != "" {
		if opts.MQTT != nil && opts.MQTT.Listen != "" {
			return nil, errors.New("hub: the MQTT listener is the embedded NATS server's: it cannot be used with an external NATS")
		}
		return connectExternal(ctx, opts, logger)
	}
	if opts.DataDir == "" {
		return nil, errors.New("hub: a data directory is required to embed NATS")
	}
	sopts := &server.Options{
		ServerName:         "gust",
		JetStream:          true,
		StoreDir:           filepath.Join(opts.DataDir, "jetstream"),
		JetStreamMaxMemory: orDefault(opts.MaxMemory, DefaultMaxMemory),
		JetStreamMaxStore:  orDefault(opts.MaxStore, DefaultMaxStore),
		NoSigs:             true,
		DontListen:         opts.Listen == "",
		// Gust's own clients retry; a slow consumer should not stall the server.
		MaxPayload: MaxMessage,
	}
	if opts.Listen != "" {
		host, port, err := splitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("hub: --nats-listen %q: %w", opts.Listen, err)
		}
		if port == 0 {
			port = server.RANDOM_PORT // ":0" means any free port, as with net.Listen
		}
		sopts.Host, sopts.Port = host, port
	}
	var mqttListener *MQTTListener
	var gate *mqttGate
	if opts.MQTT != nil && opts.MQTT.Listen != "" {
		var err error
		if mqttListener, gate, err = mqttServerOptions(sopts, opts.MQTT, logger.With("component", "mqtt")); err != nil {
			return nil, err
		}
	}
	started := false
	defer func() {
		if gate != nil && !started {
			gate.close()
		}
	}()
	clustered := opts.Cluster.Listen != ""
	if clustered {
		if err := opts.Cluster.apply(sopts); err != nil {
			return nil, err
		}
		if err := refuseStandaloneData(sopts.StoreDir); err != nil {
			return nil, err
		}
		if sopts.DontListen {
			// Routing starts only once the server listens for clients:
			// on loopback, on any free port.
			sopts.DontListen, sopts.Host, sopts.Port = false, "127.0.0.1", server.RANDOM_PORT
		}
	} else if len(opts.Cluster.Routes) > 0 {
		return nil, errors.New("hub: --routes needs --cluster-listen, the address other nodes reach this one on")
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("create NATS server: %w", err)
	}
	writeFailed := &atomic.Bool{}
	srv.SetLoggerV2(natsLogger{l: logger.With("component", "nats"), writeFailed: writeFailed}, false, false, false)
	srv.Start()
	if !readyWithin(ctx, srv, 10*time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded NATS server did not become ready (is the data directory locked by another Gust?)")
	}
	if gate != nil {
		if err := startGate(sopts, mqttListener, gate); err != nil {
			srv.Shutdown()
			return nil, err
		}
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("gust"))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	h, err := newHub(ctx, srv, nc, opts, logger)
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}
	h.mqtt, h.gate = mqttListener, gate
	if opts.DiskReserve >= 0 {
		h.disk = &diskGuard{dir: opts.DataDir, reserve: orDefault(opts.DiskReserve, DefaultDiskReserve)}
	}
	h.writeFailed = writeFailed
	if !clustered {
		h.stopRecovery = make(chan struct{})
		h.recovery.Go(func() {
			h.recoverWrites(sopts, logger.With("component", "hub"))
		})
	}
	started = true
	return h, nil
}

func newHub(ctx context.Context, srv *server.Server, nc *nats.Conn, opts Options, log *slog.Logger) (*Hub, error) {
	// A write JetStream never answers (one in flight when the embedded
	// JetStream restarted, or refused by a full disk) would stay in the
	// asynchronous publisher's pending list for good, and enough of them
	// stall every later publish: they are dropped once far older than any
	// wait for them (publishAckWait).
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(pendingAckTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open JetStream: %w", err)
	}
	if err := waitForJetStream(ctx, srv, js, opts, log); err != nil {
		nc.Close()
		return nil, err
	}
	servers := clusterSize(srv, nc, opts)
	replicas := opts.Replicas
	if replicas == 0 {
		replicas = 1
		if servers >= 3 {
			replicas = 3
		}
	}
	if replicas > servers && (srv != nil || servers == 1) {
		nc.Close()
		if servers == 1 {
			return nil, fmt.Errorf("--replicas %d: this NATS server runs alone, so it keeps one copy of each stream; start a cluster of at least %d servers (--cluster-listen, --routes) or leave --replicas out", replicas, replicas)
		}
		return nil, fmt.Errorf("--replicas %d: the NATS cluster has %d servers (this one and its --routes), fewer than the replicas asked for; add servers or lower --replicas", replicas, servers)
	}
	return &Hub{srv: srv, nc: nc, js: replicated{JetStream: js, replicas: replicas, servers: servers, log: log.With("component", "hub")}, replicas: replicas}, nil
}

// Replicas is the replication the hub gives what it creates.
func (h *Hub) Replicas() int { return h.replicas }

func readyWithin(ctx context.Context, srv *server.Server, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if srv.ReadyForConnections(50 * time.Millisecond) {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
	return false
}

// Heard reports whether a core NATS message published on subject now
// would reach a subscriber, so that a publisher whose messages are mostly
// unheard (an event's outcome, which only a tail follows) can spare their
// encoding and routing. On an external NATS, which Gust cannot ask, it is
// always true. The embedded server's routes and leaf nodes bring the
// other nodes' subscriptions into its account, so they count too.
func (h *Hub) Heard(subject string) bool {
	if h.srv == nil {
		return true
	}
	acc := h.srv.GlobalAccount()
	return acc == nil || acc.SubscriptionInterest(subject)
}

// Conn is the hub's NATS connection.
func (h *Hub) Conn() *nats.Conn { return h.nc }

// JetStream is the hub's JetStream context.
func (h *Hub) JetStream() jetstream.JetStream { return h.js }

// ClientURL is the URL other processes use to reach the embedded server, or
// "" when it has no network listener or the hub is external.
func (h *Hub) ClientURL() string {
	if h.srv == nil || h.srv.Addr() == nil {
		return ""
	}
	return h.srv.ClientURL()
}

// Close drains the connection and shuts the embedded server down, waiting
// until it has stopped. It is idempotent.
func (h *Hub) Close() error {
	var err error
	h.closeOnce.Do(func() {
		if h.gate != nil {
			h.gate.close()
		}
		if h.stopRecovery != nil {
			close(h.stopRecovery)
			h.recovery.Wait()
		}
		if derr := h.nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
			err = fmt.Errorf("drain NATS connection: %w", derr)
		}
		waitClosed(h.nc, 5*time.Second)
		if h.srv != nil {
			h.srv.Shutdown()
			h.srv.WaitForShutdown()
		}
	})
	return err
}

func waitClosed(nc *nats.Conn, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for !nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	nc.Close()
}

func orDefault(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

// natsLogger adapts the NATS server's logger to slog. Unlike the stock one,
// Fatalf does not exit the process: Gust decides what a failure means.
// An error that says JetStream could not write its store sets
// writeFailed.
type natsLogger struct {
	l           *slog.Logger
	writeFailed *atomic.Bool
}

func (n natsLogger) Noticef(format string, v ...any) {
	n.l.Debug("nats server", "detail", fmt.Sprintf(format, v...))
}
func (n natsLogger) Warnf(format string, v ...any) {
	n.l.Warn("nats server", "detail", fmt.Sprintf(format, v...))
}
func (n natsLogger) Fatalf(format string, v ...any) {
	n.l.Error("nats server", "detail", fmt.Sprintf(format, v...))
}
func (n natsLogger) Errorf(format string, v ...any) {
	detail := fmt.Sprintf(format, v...)
	if n.writeFailed != nil && isWriteFailure(detail) {
		n.writeFailed.Store(true)
	}
	if strings.Contains(detail, " - mid:") && strings.Contains(detail, "authentication error") {
		// An MQTT device refused: deviceAuth logged it, with its reason.
		n.l.Debug("nats server", "detail", detail)
		return
	}
	if strings.Contains(detail, "authentication error") || strings.Contains(detail, "Publish Violation") ||
		strings.Contains(detail, "Subscription Violation") {
		// A client (an MQTT device, a NATS client on --nats-listen) with
		// wrong credentials, or that publishes or subscribes outside its
		// namespace: its fault, not the server's.
		n.l.Warn("nats server", "detail", detail)
		return
	}
	if strings.HasPrefix(detail, "Error trying to connect to route") {
		// A peer not up yet, as when a cluster's nodes start in any order;
		// the server keeps trying, and reports it again only now and then.
		// gust cluster status says which nodes are missing.
		n.l.Info("nats server: a cluster peer does not answer yet", "detail", detail)
		return
	}
	n.l.Error("nats server", "detail", detail)
}
func (n natsLogger) Debugf(format string, v ...any) {
	n.l.Debug("nats server", "detail", fmt.Sprintf(format, v...))
}
func (n natsLogger) Tracef(format string, v ...any) {
	n.l.Debug("nats server", "detail", fmt.Sprintf(format, v...))
}
