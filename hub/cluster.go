package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ClusterOptions make the embedded NATS server one node of a NATS cluster
// with clustered JetStream (RAFT): streams and buckets are replicated on
// Options.Replicas nodes and survive the loss of a minority of them.
type ClusterOptions struct {
	// Listen is the host:port other nodes route to (NATS's 6222). Setting
	// it turns clustering on.
	Listen string
	// Routes are the other nodes' route URLs (nats://host:6222). Listing
	// this node too is harmless, as with nats-server. A route that does not
	// answer is retried for as long as the node runs.
	Routes []string
	// Name is the cluster's name, the same on every node; empty means "gust".
	Name string
	// ServerName names this node, unique in the cluster and the same on
	// every restart (JetStream's RAFT peers are known by it); empty means
	// gust-<host name>-<cluster port>.
	ServerName string
}

// ExternalOptions are how Gust authenticates to an external NATS, the usual
// NATS client options.
type ExternalOptions struct {
	// CredsFile is a NATS credentials file (JWT and NKey seed).
	CredsFile string
	// NKeyFile is a file holding an NKey seed.
	NKeyFile string
	// CAFile, CertFile and KeyFile configure TLS: the CA that signed the
	// servers' certificates, and this client's certificate and key.
	CAFile, CertFile, KeyFile string
}

// apply sets the cluster's server options.
func (c ClusterOptions) apply(sopts *server.Options) error {
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("hub: --cluster-listen %q: %w", c.Listen, err)
	}
	if port == 0 {
		return fmt.Errorf("hub: --cluster-listen %q: give a fixed port, which the other nodes' --routes name", c.Listen)
	}
	sopts.Cluster.Host, sopts.Cluster.Port = host, port
	sopts.Cluster.Name = c.Name
	if sopts.Cluster.Name == "" {
		sopts.Cluster.Name = "gust"
	}
	sopts.ServerName = c.ServerName
	if sopts.ServerName == "" {
		hn, _ := os.Hostname()
		if hn == "" {
			hn = "localhost"
		}
		sopts.ServerName = "gust-" + hn + "-" + strconv.Itoa(port)
	}
	for _, r := range c.Routes {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "nats-route" && u.Scheme != "tls") {
			return fmt.Errorf("hub: --routes: %q is not a route URL such as nats://host:6222", r)
		}
		if u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), "6222")
		}
		sopts.Routes = append(sopts.Routes, u)
	}
	return nil
}

// refuseStandaloneData fails when storeDir holds the streams of a server
// that ran alone: joining a cluster, NATS would take them for orphans of
// the cluster and delete them.
func refuseStandaloneData(storeDir string) error {
	js := filepath.Join(storeDir, server.JetStreamStoreDir) // NATS adds it
	if _, err := os.Stat(filepath.Join(js, "$SYS", "_js_")); err == nil {
		return nil // it ran in a cluster before
	}
	streams, err := os.ReadDir(filepath.Join(js, "$G", "streams"))
	if err != nil || len(streams) == 0 {
		return nil // nothing stored yet
	}
	return fmt.Errorf("the data directory %s holds the data of a Gust that ran alone (%d streams); "+
		"a cluster node would discard it, so Gust refuses to start. Start this node with an empty --data-dir, "+
		"or start it once more alone and copy what you need (gust action get/create, gust trigger/rule ...) into the cluster",
		filepath.Dir(storeDir), len(streams))
}

// waitForJetStream returns once JetStream answers. A cluster's JetStream
// answers once its nodes elected a leader, which needs a majority of them:
// until then it keeps trying, and says every few seconds what it waits for.
func waitForJetStream(ctx context.Context, srv *server.Server, js jetstream.JetStream, opts Options, log *slog.Logger) error {
	started := time.Now()
	lastSaid := started
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return fmt.Errorf("JetStream is not enabled on this NATS (start nats-server with -js): %w", err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("JetStream did not become available: %w (last: %v)", ctx.Err(), err)
		}
		if srv != nil && !srv.JetStreamIsClustered() && time.Since(started) > 10*time.Second {
			return fmt.Errorf("JetStream is not available on the embedded NATS: %w", err)
		}
		if time.Since(lastSaid) >= 5*time.Second {
			lastSaid = time.Now()
			if srv != nil {
				log.Warn("waiting for the NATS cluster to elect a JetStream leader: a majority of its nodes must be up and reach each other",
					"routes", strings.Join(opts.Cluster.Routes, ","), "routes_connected", srv.NumRoutes(),
					"waited", time.Since(started).Round(time.Second).String(), "err", err)
			} else {
				log.Warn("waiting for JetStream on the external NATS", "url", opts.URL,
					"waited", time.Since(started).Round(time.Second).String(), "err", err)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// clusterSize is how many NATS servers the hub knows of: 1 for a server
// alone; for a cluster node the routes it was given (not counting itself)
// and the servers its JetStream knows; for an external NATS the servers
// the client was told of.
func clusterSize(srv *server.Server, nc *nats.Conn, opts Options) int {
	if srv == nil {
		if nc.ConnectedClusterName() == "" {
			return 1
		}
		return max(len(nc.Servers()), 1)
	}
	if !srv.JetStreamIsClustered() {
		return 1
	}
	var so server.Options
	_ = opts.Cluster.apply(&so) // it worked once already
	n := 1
	seen := map[string]bool{}
	for _, r := range so.Routes {
		if isSelf(r, so.Cluster.Port) || seen[r.Host] {
			continue
		}
		seen[r.Host] = true
		n++
	}
	if jsz, err := srv.Jsz(nil); err == nil && jsz.Meta != nil {
		n = max(n, jsz.Meta.Size, len(jsz.Meta.Replicas)+1)
	}
	return n
}

// isSelf reports whether route u names this machine's cluster port.
func isSelf(u *url.URL, port int) bool {
	if u.Port() != strconv.Itoa(port) {
		return false
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ip := range ips {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
	}
	return false
}

// connectExternal connects to the NATS servers of opts.URL.
func connectExternal(ctx context.Context, opts Options, log *slog.Logger) (*Hub, error) {
	nopts := []nats.Option{nats.Name("gust"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("reconnected to NATS", "server", nc.ConnectedUrlRedacted()) }),
	}
	e := opts.External
	if e.CredsFile != "" {
		nopts = append(nopts, nats.UserCredentials(e.CredsFile))
	}
	if e.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(e.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey %s: %w", e.NKeyFile, err)
		}
		nopts = append(nopts, o)
	}
	if e.CAFile != "" {
		nopts = append(nopts, nats.RootCAs(e.CAFile))
	}
	if (e.CertFile == "") != (e.KeyFile == "") {
		return nil, errors.New("--nats-cert and --nats-key go together: give both or neither")
	}
	if e.CertFile != "" {
		nopts = append(nopts, nats.ClientCert(e.CertFile, e.KeyFile))
	}
	if e.CAFile != "" || e.CertFile != "" {
		nopts = append(nopts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(opts.URL, nopts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", opts.URL, err)
	}
	return newHub(ctx, nil, nc, opts, log)
}
