package gustcmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds/mqtt"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/hub/throttle"
	"github.com/gusthub/gust/internal/dirlock"
	"github.com/gusthub/gust/internal/procs"
	"github.com/gusthub/gust/rules"
)

// serveOptions are the flags of `gust serve`; each has a GUST_* variable.
type serveOptions struct {
	dataDir     string
	listen      string
	natsListen  string
	natsURL     string
	mqttListen  string
	mqttRate    float64
	publicURL   string
	devGuestKey bool
	logFormat   string
	logLevel    string
	procs       int
	pinCPUs     bool
	dedupWindow time.Duration
	bodyTimeout time.Duration
	diskReserve int
	// limits are the throttles of namespaces without their own.
	limits   throttle.Limits
	invoker  invokerOptions
	role     string
	cluster  hub.ClusterOptions
	external hub.ExternalOptions
	replicas int
	// metricsListen moves GET /metrics off the API port to an address of
	// its own, or turns it off ("off").
	metricsListen string
	// otlpEndpoint, if set, is where spans are exported (OTLP/HTTP).
	otlpEndpoint string
	// egressAllow is --egress-allow; egress the policy parsed from it,
	// given to feeds and built-in actions.
	egressAllow string
	egress      *egress.Policy
}

// The roles of `gust serve --role`.
const (
	roleAll        = "all"
	roleController = "controller" // API, rule engine, feeds
	roleInvoker    = "invoker"    // container pool, takes invocations
)

// DefaultListen is OpenWhisk standalone's address.
const DefaultListen = "127.0.0.1:3233"

func newServeCmd(e *env) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run Gust: embedded NATS JetStream, the OpenWhisk API, feeds, rules and the invoker",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd, e.getenv); err != nil {
				return err
			}
			return serve(cmd.Context(), o, e)
		},
	}
	// One line a flag: bindEnv gives each its GUST_* variable.
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(e.getenv), "directory for JetStream state (env GUST_DATA_DIR)")
	f.StringVar(&o.listen, "listen", DefaultListen, "API address (env GUST_LISTEN)")
	f.StringVar(&o.natsListen, "nats-listen", "", "expose the embedded NATS on this address, e.g. 127.0.0.1:4222 (env GUST_NATS_LISTEN; default off)")
	f.StringVar(&o.mqttListen, "mqtt-listen", "", "MQTT 3.1.1 listener for devices on `addr`, e.g. 127.0.0.1:1883; devices log in with a namespace key or their own credentials from 'gust device create' (env GUST_MQTT_LISTEN; default off)")
	f.Float64Var(&o.mqttRate, "mqtt-rate", hub.DefaultMQTTRate, "messages per second one device connection may publish to the MQTT listener, after a burst of twice as many; a faster device is paced, not cut off; 0 or negative: no limit (env GUST_MQTT_RATE)")
	f.StringVar(&o.publicURL, "public-url", "", "the URL senders such as GitHub reach this API at, e.g. https://gust.example.com; feed URLs are under it (env GUST_PUBLIC_URL; default the listen address)")
	f.StringVar(&o.natsURL, "nats", "", "use an external NATS server with JetStream instead of embedding one (env GUST_NATS)")
	f.BoolVar(&o.devGuestKey, "dev-guest-key", false, "accept OpenWhisk's well-known guest key for namespace guest (env GUST_DEV_GUEST_KEY=true)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json (env GUST_LOG_FORMAT)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (env GUST_LOG_LEVEL)")
	f.IntVar(&o.procs, "procs", 0, "threads that run Gust's own code at once (GOMAXPROCS); 0: the GOMAXPROCS variable if set, else half the CPUs, leaving the rest to actions (env GUST_PROCS)")
	f.BoolVar(&o.pinCPUs, "pin-cpus", false, "keep Gust's threads on as many CPUs as --procs (the last ones), leaving the others to the action containers; Linux, and actions in Docker (env GUST_PIN_CPUS=true)")
	f.DurationVar(&o.dedupWindow, "dedup-window", hub.DefaultDedupWindow, "a trigger runs an event (by source and id) once within this window; a trigger's dedup-window annotation overrides it (env GUST_DEDUP_WINDOW)")
	f.DurationVar(&o.bodyTimeout, "body-timeout", api.DefaultBodyTimeout, "drop a request whose body sends nothing this long, with 408 (env GUST_BODY_TIMEOUT)")
	f.IntVar(&o.diskReserve, "disk-reserve", hub.DefaultDiskReserve>>20, "MB of the data dir's disk to keep free: with less, API writes get 507 until room is made; 0 turns it off (env GUST_DISK_RESERVE)")
	f.IntVar(&o.limits.InvocationsPerMinute, "invocations-per-minute", 0, "invokes a namespace may make in a minute, unless gust namespace limits gave it its own; 0: no limit (env GUST_INVOCATIONS_PER_MINUTE)")
	f.IntVar(&o.limits.ConcurrentInvocations, "concurrent-invocations", 0, "activations a namespace may have in flight, unless gust namespace limits gave it its own; 0: no limit (env GUST_CONCURRENT_INVOCATIONS)")
	f.IntVar(&o.limits.FiresPerMinute, "fires-per-minute", 0, "trigger fires a namespace may make in a minute, unless gust namespace limits gave it its own; 0: no limit (env GUST_FIRES_PER_MINUTE)")
	f.StringVar(&o.invoker.sandbox, "sandbox", "auto", "where actions run: auto (Docker if reachable, else local processes), docker or process (env GUST_SANDBOX)")
	f.IntVar(&o.invoker.memoryMB, "invoker-memory", 2048, "MB of memory all action containers may use together (env GUST_INVOKER_MEMORY)")
	f.Float64Var(&o.invoker.cpus, "invoker-cpus", 0, "CPUs all action containers may use together, each a quota in proportion to its memory; 0: no quota, CPU shares only (env GUST_INVOKER_CPUS)")
	f.BoolVar(&o.invoker.queueRuns, "queue-runs", true, "queue up to two short runs of a busy one-at-a-time action at its container's proxy, so it starts the next as one ends (env GUST_QUEUE_RUNS)")
	f.DurationVar(&o.invoker.pauseGrace, "pause-grace", 10*time.Second, "pause a warm container idle this long; 0 never pauses (env GUST_PAUSE_GRACE)")
	f.DurationVar(&o.invoker.idleTTL, "idle-ttl", 10*time.Minute, "remove a warm container idle this long (env GUST_IDLE_TTL)")
	f.IntVar(&o.invoker.stemCells, "stem-cells", 2, "pre-warmed containers per runtime kind, at most the manifest's count (env GUST_STEM_CELLS)")
	f.BoolVar(&o.invoker.buildImages, "build-images", true, "build every runtime image this machine can build in the background at start, so that no first invoke waits for one (env GUST_BUILD_IMAGES)")
	f.IntVar(&o.invoker.maxInFlight, "invoker-max-inflight", 64, "activations one invoker runs at once from each of its two queues, its home queue and the shared one (env GUST_INVOKER_MAX_INFLIGHT)")
	f.StringVar(&o.role, "role", roleAll, "what this process runs: all, controller (API, rules, feeds) or invoker (actions); several of each may share one NATS (env GUST_ROLE)")
	f.StringVar(&o.cluster.Listen, "cluster-listen", "", "make the embedded NATS one node of a cluster, taking routes on this address, e.g. 0.0.0.0:6222 (env GUST_CLUSTER_LISTEN)")
	f.StringSliceVar(&o.cluster.Routes, "routes", nil, "the other cluster nodes' route URLs, e.g. nats://h2:6222,nats://h3:6222 (env GUST_ROUTES)")
	f.StringVar(&o.cluster.Name, "cluster-name", "gust", "the NATS cluster's name, the same on every node (env GUST_CLUSTER_NAME)")
	f.StringVar(&o.cluster.ServerName, "server-name", "", "this node's name in the cluster, unique and the same on every restart (env GUST_SERVER_NAME; default gust-<host>-<cluster port>)")
	f.IntVar(&o.replicas, "replicas", 0, "copies of every stream, bucket and object store; 0: 1 alone, 3 on a cluster of 3 or more (env GUST_REPLICAS)")
	f.StringVar(&o.external.CredsFile, "nats-creds", "", "credentials file for --nats (env GUST_NATS_CREDS)")
	f.StringVar(&o.external.NKeyFile, "nats-nkey", "", "NKey seed file for --nats (env GUST_NATS_NKEY)")
	f.StringVar(&o.external.CAFile, "nats-ca", "", "CA certificate of the --nats servers' TLS (env GUST_NATS_CA)")
	f.StringVar(&o.external.CertFile, "nats-cert", "", "client certificate for --nats TLS (env GUST_NATS_CERT)")
	f.StringVar(&o.external.KeyFile, "nats-key", "", "client key for --nats TLS (env GUST_NATS_KEY)")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics at GET /metrics on this address instead of the API's; off: no metrics (env GUST_METRICS_LISTEN; an invoker alone has no API: give it one)")
	f.StringVar(&o.otlpEndpoint, "otlp-endpoint", "", "export trace spans of events and activations over OTLP/HTTP to this collector, e.g. http://127.0.0.1:4318 (env GUST_OTLP_ENDPOINT; default off: trace context is still passed on)")
	f.StringVar(&o.egressAllow, "egress-allow", "", "addresses feeds and built-in actions may connect to for users besides public ones (GitHub baseUrl, Slack apiUrl, ...): a comma list of loopback, private, link-local, reserved, all, addresses and CIDR prefixes (env GUST_EGRESS_ALLOW; default public addresses only)")
	f.StringVar(&o.invoker.proxyBinary, "proxy-binary", "", "gust executable to use as the action proxy (default: this one)")
	_ = f.MarkHidden("proxy-binary")
	return cmd
}

// bindEnv gives each flag of cmd's own that the command line does not set
// the value of its environment variable: GUST_ and the flag's name in
// capitals with _ for - (--invoker-memory: GUST_INVOKER_MEMORY). A value
// the flag does not take is an error, as it is on the command line.
func bindEnv(cmd *cobra.Command, getenv func(string) string) error {
	var errs []error
	cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		key := "GUST_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := getenv(key)
		if f.Changed || f.Name == "help" || v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: not a value for --%s (%s): %w", key, v, f.Name, f.Value.Type(), err))
		}
	})
	return errors.Join(errs...)
}

// checkPublicURL refuses a --public-url that senders could not use.
func checkPublicURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--public-url %q: give the http(s) URL senders reach this API at, e.g. https://gust.example.com", s)
	}
	return nil
}

// publicURL is the base of the URLs feeds give senders: --public-url, or
// the API's own address.
func publicURL(o serveOptions, apiHost string) string {
	if o.publicURL == "" {
		return apiHost
	}
	return strings.TrimSuffix(o.publicURL, "/")
}

// defaultDataDir is gust under the user's data directory.
func defaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "gust")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".local", "share", "gust")
	}
	return filepath.Join(os.TempDir(), "gust")
}

func newLogger(o serveOptions, e *env) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", o.logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", o.logFormat)
}

// check refuses flag values Gust cannot run with, makes the data dir
// absolute and parses --egress-allow into o.egress (the invoker's too).
func (o *serveOptions) check() error {
	// Once, before anything uses it: Docker takes a relative bind-mount
	// source (the sockets dir) for a volume name, and the CLI config must
	// name the data dir wherever the CLI runs.
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return fmt.Errorf("--data-dir %q: %w", o.dataDir, err)
	}
	o.dataDir = dataDir
	if o.bodyTimeout <= 0 {
		return fmt.Errorf("--body-timeout %v: use a positive duration such as 60s", o.bodyTimeout)
	}
	if o.diskReserve < 0 {
		return fmt.Errorf("--disk-reserve %d: use a number of MB, or 0 to turn the check off", o.diskReserve)
	}
	for flag, v := range map[string]int{"invocations-per-minute": o.limits.InvocationsPerMinute,
		"concurrent-invocations": o.limits.ConcurrentInvocations, "fires-per-minute": o.limits.FiresPerMinute} {
		if v < 0 {
			return fmt.Errorf("--%s %d: use a positive number, or 0 for no limit", flag, v)
		}
	}
	if o.procs < 0 {
		return fmt.Errorf("--procs %d: use a positive number, or 0 to choose from the CPUs", o.procs)
	}
	if o.pinCPUs && o.invoker.sandbox == "process" && o.role != roleController {
		return errors.New("--pin-cpus with --sandbox process: the action processes would start on Gust's CPUs; use --sandbox docker, or drop --pin-cpus")
	}
	if err := checkPublicURL(o.publicURL); err != nil {
		return err
	}
	policy, err := egress.Parse(o.egressAllow)
	if err != nil {
		return fmt.Errorf("--egress-allow: %w", err)
	}
	o.egress, o.invoker.egress = policy, policy
	if o.dedupWindow < hub.MinDedupWindow || o.dedupWindow > hub.MaxDedupWindow {
		return fmt.Errorf("--dedup-window %v: use a duration between %v and %v", o.dedupWindow, hub.MinDedupWindow, hub.MaxDedupWindow)
	}
	if o.role != roleAll && o.role != roleController && o.role != roleInvoker {
		return fmt.Errorf("--role %q: use all, controller or invoker", o.role)
	}
	return o.invoker.check()
}

// serve runs Gust until ctx ends or one of its components fails (its
// error), then stops the components in reverse order of start. A ctx that
// ends during startup stops it as cleanly as one that ends later.
func serve(ctx context.Context, o serveOptions, e *env) error {
	started := time.Now()
	log, err := newLogger(o, e)
	if err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	procsChoice := procs.Choose(o.procs, e.getenv)
	defer procs.Apply(procsChoice)()
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// Before anything opens the data dir: a second serve on it would open
	// the live JetStream store and replace the API socket.
	lock, err := dirlock.Acquire(o.dataDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	lc := newLifecycle(log)
	defer lc.stop()
	g, err := build(ctx, o, e, lc, log)
	if err != nil {
		if ctx.Err() != nil { // a signal: the step it cut short failed for that alone
			log.Info("gust stopped during startup", "cut_short", err.Error())
			return nil
		}
		return err
	}
	cpus := "all"
	if o.pinCPUs {
		if g.sandbox == "process" { // auto found no Docker engine
			log.Warn("--pin-cpus ignored: actions run as local processes, which would start on Gust's CPUs")
		} else {
			pinned, unpin, err := procs.Pin(procsChoice.N)
			if err != nil {
				return fmt.Errorf("--pin-cpus: %w", err)
			}
			defer unpin()
			cpus = pinned
		}
	}
	log.Info("gust ready", "role", g.role, "api", g.apiHost, "data_dir", o.dataDir, "nats", natsDescription(g.hub, o), "sandbox", g.sandbox, "procs", procsChoice.String(),
		"cpus", cpus, "startup", time.Since(started).Round(time.Millisecond).String())
	if err := lc.wait(ctx); err != nil {
		log.Error("gust stops: a component failed", "err", err)
		return err
	}
	log.Info("gust shutting down")
	return nil
}

// built is what the ready line reports of a started Gust.
type built struct {
	hub     *hub.Hub
	role    string
	apiHost string
	sandbox string
	load    func() *hub.Load // the invoker's, nil without one
}

// build starts Gust's components into lc, in order: hub, invoker,
// dispatcher, rule engine, feeds, API.
func build(ctx context.Context, o serveOptions, e *env, lc *lifecycle, log *slog.Logger) (*built, error) {
	var mqttLogins atomic.Pointer[mqttCredentials] // set once the identities and devices are open
	h, tel, err := startHub(ctx, o, &mqttLogins, lc, log)
	if err != nil {
		return nil, err
	}
	s, err := openStores(ctx, h.JetStream(), o.limits, tel, log)
	if err != nil {
		return nil, err
	}
	mqttLogins.Store(&mqttCredentials{keys: s.ids, devices: s.devices})
	controller, invokes := o.role != roleInvoker, o.role != roleController
	b := &built{hub: h, role: o.role, sandbox: "none"}
	// An invoker alone serves no API: its actions reach a controller's,
	// at --public-url.
	var ln net.Listener
	b.apiHost = publicURL(o, "http://"+o.listen)
	if controller {
		if ln, err = listenAPI(ctx, o, e, s.ids, lc, log); err != nil {
			return nil, err
		}
		b.apiHost = "http://" + ln.Addr().String()
	}
	s.cache = actions.NewCache(ctx, s.actions, log.With("component", "action-cache")) // what invokes and sequences run, without a store read each
	var dispatcher *dispatch.Dispatcher
	if controller {
		dispatcher = dispatch.New(h, s.cache, s.activations, log.With("component", "dispatcher"))
		dispatcher.UseSlots(s.throttles)
	}
	if invokes {
		if err := startInvoker(ctx, o, h, s, dispatcher, tel, b, lc, log); err != nil {
			return nil, err
		}
	}
	lc.run(ctx, "advertiser", func(ctx context.Context) error { // gust cluster status, placement
		return h.Advertise(ctx, func() hub.Member {
			m := hub.Member{Role: o.role}
			if controller {
				m.API = b.apiHost
			}
			if b.load != nil {
				m.Invoker = b.load()
			}
			return m
		}, log.With("component", "advertiser"))
	})
	if !controller {
		return b, nil
	}
	if err := startController(ctx, o, h, s, dispatcher, tel, b.apiHost, ln, lc, log); err != nil {
		return nil, err
	}
	return b, nil
}

// startHub starts the hub (embedded NATS, or the connection to --nats)
// and the telemetry that reads it, with the metrics server of
// --metrics-listen. Devices log in to its MQTT listener with mqttLogins.
func startHub(ctx context.Context, o serveOptions, mqttLogins *atomic.Pointer[mqttCredentials], lc *lifecycle, log *slog.Logger) (*hub.Hub, *telemetryParts, error) {
	h, err := hub.Start(ctx, hub.Options{URL: o.natsURL, External: o.external, DataDir: o.dataDir, Listen: o.natsListen,
		MQTT: mqttOptions(o.mqttListen, o.mqttRate, mqttLogins), Cluster: o.cluster, Replicas: o.replicas, Logger: log, DiskReserve: diskReserve(o.diskReserve)})
	if err != nil {
		return nil, nil, err
	}
	lc.closer("hub", h.Close)
	if l, ok := h.MQTT(); ok {
		mqtt.UseEmbedded(l)
	}
	tel, err := newTelemetry(o, lc, log)
	if err != nil {
		return nil, nil, err
	}
	if tel.metrics != nil {
		tel.metrics.WatchJetStream(h.JetStream())
	}
	runMetrics, err := tel.listenMetrics(o)
	if err != nil {
		return nil, nil, err
	}
	if runMetrics != nil {
		lc.run(ctx, "metrics server", runMetrics)
	}
	return h, tel, nil
}

// stores are the buckets and streams Gust keeps its state in, which the
// controller's and the invoker's parts share.
type stores struct {
	actions     *actions.Store
	activations *actions.ActivationStore
	rules       *rules.Store
	ids         *api.Identities
	devices     *api.Devices
	routes      *api.Routes // wsk api
	throttles   *throttle.Throttle
	// cache is what invokes and sequences run, without a store read each;
	// build makes it once the API listens.
	cache *actions.Cache
}

// openStores opens (creating what is missing) the stores, the invocation
// queue and the event streams.
func openStores(ctx context.Context, js jetstream.JetStream, limits throttle.Limits, tel *telemetryParts, log *slog.Logger) (*stores, error) {
	var s stores
	var err error
	if s.actions, err = actions.OpenStore(ctx, js); err != nil {
		return nil, err
	}
	if s.activations, err = actions.OpenActivationStore(ctx, js, actions.ActivationRetention{Logger: log.With("component", "activations")}); err != nil {
		return nil, err
	}
	if tel.metrics != nil {
		tel.metrics.WatchActivationStore(s.activations)
	}
	if s.rules, err = rules.OpenStore(ctx, js); err != nil {
		return nil, err
	}
	if s.ids, err = api.OpenIdentities(ctx, js); err != nil {
		return nil, err
	}
	if s.devices, err = api.OpenDevices(ctx, js); err != nil {
		return nil, err
	}
	if s.routes, err = api.OpenRoutes(ctx, js); err != nil {
		return nil, err
	}
	if s.throttles, err = throttle.Open(ctx, js, throttle.Options{Defaults: limits}); err != nil {
		return nil, err
	}
	if _, err := hub.OpenInvocations(ctx, js); err != nil {
		return nil, err
	}
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		return nil, err
	}
	if _, err := hub.OpenEventIDs(ctx, js, 0); err != nil {
		return nil, err
	}
	return &s, nil
}

// mqttCredentials are who may log in to the embedded MQTT listener.
type mqttCredentials struct {
	keys    *api.Identities
	devices *api.Devices
}

// mqttOptions turn on the embedded MQTT listener on addr (none when addr is
// empty): a device logs in with a namespace key (user = its uuid, password
// = its secret) or with its own credentials (gust device create: user =
// "<namespace>/<device>"), and may use that namespace's topics only.
func mqttOptions(addr string, perSecond float64, logins *atomic.Pointer[mqttCredentials]) *hub.MQTTOptions {
	if addr == "" {
		return nil
	}
	if perSecond == 0 {
		perSecond = -1 // 0 a second would refuse every message: as no limit, like a negative
	}
	return &hub.MQTTOptions{Listen: addr, Rate: perSecond, Authenticate: func(ctx context.Context, user, pass string) (string, error) {
		c := logins.Load()
		if c == nil {
			return "", errors.New("gust is starting")
		}
		if api.IsDeviceUsername(user) {
			return c.devices.Authenticate(ctx, user, pass)
		}
		ident, err := c.keys.Authenticate(ctx, user, pass)
		if err != nil {
			return "", err
		}
		return ident.Namespace, nil
	}}
}

func natsDescription(h *hub.Hub, o serveOptions) string {
	switch {
	case o.natsURL != "":
		return o.natsURL
	case h.ClientURL() != "":
		return "embedded, " + h.ClientURL()
	}
	return "embedded, in-process only"
}

// diskReserve is hub.Options.DiskReserve for --disk-reserve mb: 0 is off.
func diskReserve(mb int) int64 {
	if mb == 0 {
		return -1
	}
	return int64(mb) << 20
}

// containerOwner names the containers of the Gust with data directory dir.
func containerOwner(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return "gust-" + hex.EncodeToString(sum[:4])
}

// apiSocketDir is the directory of the API's Unix socket, api.sock.
func apiSocketDir(dataDir string) string { return filepath.Join(dataDir, "api") }

// listenAPISocket listens on the API's Unix socket, which anyone who can
// reach the file may connect to: requests still need a key.
func listenAPISocket(dataDir string) (net.Listener, error) {
	dir := apiSocketDir(dataDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "api.sock")
	_ = os.Remove(path) // a leftover of an earlier run
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o666); err != nil { // actions run as an unprivileged user
		ln.Close()
		return nil, err
	}
	return ln, nil
}
