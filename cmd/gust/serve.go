package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/dirlock"
	"github.com/gusthub/gust/internal/procs"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/rules"
)

// serveOptions are the flags of `gust serve`; each has a GUST_* variable.
type serveOptions struct {
	dataDir     string
	listen      string
	natsListen  string
	natsURL     string
	publicURL   string
	devGuestKey bool
	logFormat   string
	logLevel    string
	procs       int
	invoker     invokerOptions
}

// DefaultListen is OpenWhisk standalone's address.
const DefaultListen = "127.0.0.1:3233"

func newServeCmd(e *env) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run Gust: embedded NATS JetStream, the OpenWhisk API, feeds, rules and the invoker",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), o, e)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", envOr(e, "GUST_DATA_DIR", defaultDataDir(e.getenv)), "directory for JetStream state (env GUST_DATA_DIR)")
	f.StringVar(&o.listen, "listen", envOr(e, "GUST_LISTEN", DefaultListen), "API address (env GUST_LISTEN)")
	f.StringVar(&o.natsListen, "nats-listen", envOr(e, "GUST_NATS_LISTEN", ""), "expose the embedded NATS on this address, e.g. 127.0.0.1:4222 (env GUST_NATS_LISTEN; default off)")
	f.StringVar(&o.publicURL, "public-url", envOr(e, "GUST_PUBLIC_URL", ""), "the URL senders such as GitHub reach this API at, e.g. https://gust.example.com; feed URLs are under it (env GUST_PUBLIC_URL; default the listen address)")
	f.StringVar(&o.natsURL, "nats", envOr(e, "GUST_NATS", ""), "use an external NATS server with JetStream instead of embedding one (env GUST_NATS)")
	f.BoolVar(&o.devGuestKey, "dev-guest-key", envOr(e, "GUST_DEV_GUEST_KEY", "") == "true", "accept OpenWhisk's well-known guest key for namespace guest (env GUST_DEV_GUEST_KEY=true)")
	f.StringVar(&o.logFormat, "log-format", envOr(e, "GUST_LOG_FORMAT", "text"), "log format: text or json (env GUST_LOG_FORMAT)")
	f.StringVar(&o.logLevel, "log-level", envOr(e, "GUST_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env GUST_LOG_LEVEL)")
	f.IntVar(&o.procs, "procs", envInt(e, "GUST_PROCS", 0), "threads that run Gust's own code at once (GOMAXPROCS); 0: the GOMAXPROCS variable if set, else half the CPUs, leaving the rest to actions (env GUST_PROCS)")
	f.StringVar(&o.invoker.sandbox, "sandbox", envOr(e, "GUST_SANDBOX", "auto"), "where actions run: auto (Docker if reachable, else local processes), docker or process (env GUST_SANDBOX)")
	f.IntVar(&o.invoker.memoryMB, "invoker-memory", envInt(e, "GUST_INVOKER_MEMORY", 2048), "MB of memory all action containers may use together (env GUST_INVOKER_MEMORY)")
	f.Float64Var(&o.invoker.cpus, "invoker-cpus", envFloat(e, "GUST_INVOKER_CPUS", 0), "CPUs all action containers may use together, each a quota in proportion to its memory; 0: no quota, CPU shares only (env GUST_INVOKER_CPUS)")
	f.DurationVar(&o.invoker.pauseGrace, "pause-grace", envDuration(e, "GUST_PAUSE_GRACE", 10*time.Second), "pause a warm container idle this long; 0 never pauses (env GUST_PAUSE_GRACE)")
	f.DurationVar(&o.invoker.idleTTL, "idle-ttl", envDuration(e, "GUST_IDLE_TTL", 10*time.Minute), "remove a warm container idle this long (env GUST_IDLE_TTL)")
	f.IntVar(&o.invoker.stemCells, "stem-cells", envInt(e, "GUST_STEM_CELLS", 2), "pre-warmed containers per runtime kind, at most the manifest's count (env GUST_STEM_CELLS)")
	f.IntVar(&o.invoker.maxInFlight, "invoker-max-inflight", envInt(e, "GUST_INVOKER_MAX_INFLIGHT", 64), "activations one invoker runs at once (env GUST_INVOKER_MAX_INFLIGHT)")
	f.StringVar(&o.invoker.proxyBinary, "proxy-binary", envOr(e, "GUST_PROXY_BINARY", ""), "gust executable to use as the action proxy (default: this one)")
	_ = f.MarkHidden("proxy-binary")
	return cmd
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

func envInt(e *env, key string, def int) int {
	if v := e.getenv(key); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envFloat(e *env, key string, def float64) float64 {
	if v := e.getenv(key); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return n
		}
	}
	return def
}

func envDuration(e *env, key string, def time.Duration) time.Duration {
	if v := e.getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func envOr(e *env, key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
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

// serve runs Gust until ctx ends, then drains and shuts down in reverse
// order of start.
func serve(ctx context.Context, o serveOptions, e *env) error {
	started := time.Now()
	log, err := newLogger(o, e)
	if err != nil {
		return err
	}
	if o.procs < 0 {
		return fmt.Errorf("--procs %d: use a positive number, or 0 to choose from the CPUs", o.procs)
	}
	if err := checkPublicURL(o.publicURL); err != nil {
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
	h, err := hub.Start(ctx, hub.Options{URL: o.natsURL, DataDir: o.dataDir, Listen: o.natsListen, Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := h.Close(); err != nil {
			log.Warn("hub close", "err", err)
		}
	}()
	js := h.JetStream()
	store, err := actions.OpenStore(ctx, js)
	if err != nil {
		return err
	}
	activations, err := actions.OpenActivationStore(ctx, js, actions.ActivationRetention{Logger: log.With("component", "activations")})
	if err != nil {
		return err
	}
	ruleStore, err := rules.OpenStore(ctx, js)
	if err != nil {
		return err
	}
	ids, err := api.OpenIdentities(ctx, js)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	apiHost := "http://" + ln.Addr().String()
	if err := bootstrap(ctx, ids, o, e, apiHost, log); err != nil {
		ln.Close()
		return err
	}
	sb, err := openSandbox(ctx, o.invoker, o.dataDir, log)
	if err != nil {
		ln.Close()
		return err
	}
	if _, err := invoker.OpenQueue(ctx, js); err != nil {
		ln.Close()
		return err
	}
	cache := actions.NewCache(ctx, store, log.With("component", "action-cache")) // what invokes and sequences run, without a store read each
	dispatcher := invoker.NewDispatcher(h, cache, activations, log.With("component", "dispatcher"))
	stopInvoker, err := startInvoker(ctx, sb, invokerDeps{hub: h, code: store, records: activations, apiHost: apiHost,
		owner: containerOwner(o.dataDir), dispatcher: dispatcher}, o.invoker, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopInvoker()
	defer dispatcher.Close() // before the invoker stops: sequences need it
	if _, err := hub.OpenEvents(ctx, js); err != nil {
		ln.Close()
		return err
	}
	engineCtx, stopEngine := context.WithCancel(ctx)
	engineDone := make(chan error, 1)
	go func() {
		engineDone <- rules.NewEngine(js, ruleStore, store, dispatcher, activations, log.With("component", "rules")).ShareMirrors(cache).Run(engineCtx)
	}()
	defer func() { // before the dispatcher closes: the engine queues through it
		stopEngine()
		if err := <-engineDone; err != nil {
			log.Warn("rule engine stopped", "err", err)
		}
	}()
	events := hub.NewPublisher(js)
	feedManager, stopFeeds, err := startFeeds(ctx, js, events, store, ruleStore, publicURL(o, apiHost), log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopFeeds()
	srv := &http.Server{
		Handler: api.New(api.Config{
			Actions: store, Invocations: cache, Rules: ruleStore, Activations: activations, Identities: ids,
			Activator: dispatcher,
			Events:    events,
			Outcomes:  rules.NewOutcomes(h.Conn()),
			Feeds:     feedManager, Records: activations,
			Build: version, Logger: log.With("component", "api"),
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	// The API on a Unix socket too, for actions in containers: their proxy
	// forwards it to them (docker.Options.APISocketDir).
	if uln, err := listenAPISocket(o.dataDir); err != nil {
		log.Warn("no API socket for actions in containers", "err", err)
	} else {
		go func() {
			if err := srv.Serve(uln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("API socket", "err", err)
			}
		}()
	}
	log.Info("gust ready", "api", apiHost, "data_dir", o.dataDir, "nats", natsDescription(h, o), "sandbox", sb.Name(), "procs", procsChoice.String(),
		"startup", time.Since(started).Round(time.Millisecond).String())

	select {
	case err := <-serveErr:
		return fmt.Errorf("API server: %w", err)
	case <-ctx.Done():
	}
	log.Info("gust shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("API shutdown", "err", err)
	}
	return nil
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

// bootstrap makes sure the admin key and namespace guest exist, and that
// the gust CLI on this machine works with no set-up. The data dir keeps a
// CLI configuration of its own, cli-config; the user's (GUST_CONFIG or
// ~/.config/gust/config) is written only when there is none or when it
// names this data dir, so that a second server (a test, another data dir)
// never takes the user's CLI away from the first.
func bootstrap(ctx context.Context, ids *api.Identities, o serveOptions, e *env, apiHost string, log *slog.Logger) error {
	adminAuth, err := ensureAdmin(ctx, ids, o.dataDir)
	if err != nil {
		return err
	}
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	ownPath := filepath.Join(dataDir, dataDirConfig)
	own, err := readProps(ownPath)
	if err != nil {
		return err
	}
	userPath := configPath(e.getenv)
	user, err := readProps(userPath)
	if err != nil {
		return err
	}
	guestAuth := ""
	if o.devGuestKey {
		if err := ids.Add(ctx, "guest", api.DevGuestKey, false); err != nil {
			return fmt.Errorf("register the dev guest key: %w", err)
		}
		guestAuth = api.DevGuestKey
	} else {
		for _, auth := range []string{own[propAuth], user[propAuth]} {
			if auth != "" && authenticates(ctx, ids, auth) {
				guestAuth = auth // written down already: only its hash is kept
				break
			}
		}
	}
	if guestAuth == "" {
		if guestAuth, err = ids.Create(ctx, "guest", false); err != nil {
			return fmt.Errorf("create namespace guest: %w", err)
		}
		log.Info("created a key for namespace guest", "config", ownPath)
	}
	want := map[string]string{propAPIHost: apiHost, propAuth: guestAuth, propAdminAuth: adminAuth, propDataDir: dataDir}
	if err := updateProps(ownPath, own, want); err != nil {
		return err
	}
	if userPath == ownPath {
		return nil
	}
	if !namesDataDir(user, dataDir) {
		log.Info("the CLI config names another server: left as it is", "config", userPath,
			"point_cli_here", "export GUST_CONFIG="+ownPath)
		return nil
	}
	return updateProps(userPath, user, want)
}

// dataDirConfig is the CLI configuration serve keeps in its data dir.
const dataDirConfig = "cli-config"

// namesDataDir says whether serve on dataDir may write the CLI
// configuration props: when it names no server, or names this data dir.
func namesDataDir(props map[string]string, dataDir string) bool {
	if props[propAPIHost] == "" && props[propAuth] == "" {
		return true
	}
	return props[propDataDir] == dataDir
}

// updateProps writes want over props to path, unless props hold it all.
func updateProps(path string, props, want map[string]string) error {
	changed := false
	for k, v := range want {
		if props[k] != v {
			props[k], changed = v, true
		}
	}
	if !changed {
		return nil
	}
	return writeProps(path, props)
}

func authenticates(ctx context.Context, ids *api.Identities, auth string) bool {
	id, key, ok := strings.Cut(auth, ":")
	if !ok {
		return false
	}
	_, err := ids.Authenticate(ctx, id, key)
	return err == nil
}

// ensureAdmin returns the admin key kept in the data directory (mode 0600),
// creating it on first start. It may create namespaces.
func ensureAdmin(ctx context.Context, ids *api.Identities, dataDir string) (string, error) {
	path := filepath.Join(dataDir, "admin.auth")
	if b, err := os.ReadFile(path); err == nil {
		auth := strings.TrimSpace(string(b))
		if err := ids.Add(ctx, actions.SystemNamespace, auth, true); err != nil {
			return "", fmt.Errorf("register admin key: %w", err)
		}
		return auth, nil
	}
	auth, err := ids.Create(ctx, actions.SystemNamespace, true)
	if err != nil {
		return "", fmt.Errorf("create admin key: %w", err)
	}
	if err := os.WriteFile(path, []byte(auth+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin key: %w", err)
	}
	return auth, nil
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
