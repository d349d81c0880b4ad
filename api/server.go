package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api/console"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/rules"
)

// ActionStore is what the API needs of the action and package store.
type ActionStore interface {
	GetAction(ctx context.Context, n actions.Name, withCode bool) (*actions.Action, uint64, error)
	PutAction(ctx context.Context, a *actions.Action, rev uint64) (uint64, error)
	DeleteAction(ctx context.Context, n actions.Name, rev uint64) error
	ListActions(ctx context.Context, ns, pkg string) ([]actions.Action, error)
	GetPackage(ctx context.Context, n actions.Name) (*actions.Package, uint64, error)
	PutPackage(ctx context.Context, p *actions.Package, rev uint64) (uint64, error)
	DeletePackage(ctx context.Context, n actions.Name, rev uint64) error
	ListPackages(ctx context.Context, ns string) ([]actions.Package, error)
	ListPublicPackages(ctx context.Context, exclude string) ([]actions.Package, error)
}

// RuleStore is what the API needs of the trigger and rule store.
type RuleStore interface {
	GetTrigger(ctx context.Context, n actions.Name) (*rules.Trigger, uint64, error)
	PutTrigger(ctx context.Context, t *rules.Trigger, rev uint64) (uint64, error)
	DeleteTrigger(ctx context.Context, n actions.Name, rev uint64) error
	ListTriggers(ctx context.Context, ns string) ([]rules.Trigger, error)
	GetRule(ctx context.Context, n actions.Name) (*rules.Rule, uint64, error)
	PutRule(ctx context.Context, r *rules.Rule, rev uint64) (uint64, error)
	DeleteRule(ctx context.Context, n actions.Name, rev uint64) error
	ListRules(ctx context.Context, ns string) ([]rules.Rule, error)
}

// ActivationReader is what the API needs of the activation store
// (*actions.ActivationStore).
type ActivationReader interface {
	Get(ctx context.Context, ns, id string) (*actions.Activation, error)
	List(ctx context.Context, q actions.Query) ([]actions.Activation, int, error)
	Count(ctx context.Context, q actions.Query) (int, error)
	// RerunParams returns the parameters kept on activation id's record
	// for a rerun, or hub.ErrParamsNotKept when they are not there (they
	// may be in the ParamsLoader's bucket).
	RerunParams(ctx context.Context, ns, id string) (json.RawMessage, error)
}

// Authenticator checks namespace keys and manages namespaces.
type Authenticator interface {
	Authenticate(ctx context.Context, uuid, key string) (*Identity, error)
	Create(ctx context.Context, ns string, admin bool) (string, error)
	Namespaces(ctx context.Context) ([]string, error)
}

// Config is what a Server is built from.
type Config struct {
	Actions ActionStore
	// Invocations reads the actions that invokes run: a cache
	// (actions.Cache) spares each invoke a read of the store. Nil means
	// Actions.
	Invocations actions.Getter
	Rules       RuleStore
	Activations ActivationReader
	Identities  Authenticator
	// Activator runs invocations; nil answers invokes with 503.
	Activator Activator
	// Events takes trigger fires; nil answers fires with 503.
	Events EventPublisher
	// Replayer puts stored events on their trigger again (POST
	// .../triggers/{name}/replay); nil answers replays with 503.
	Replayer EventReplayer
	// Params reads the parameters of activations for reruns (POST
	// .../activations/{id}/rerun); nil answers reruns with 503.
	Params ParamsLoader
	// Retention holds how long namespaces' events are kept (GET and PUT
	// .../retention); nil answers with 503.
	Retention RetentionStore
	// Outcomes streams what became of trigger events (GET .../events);
	// nil answers such streams with 503.
	Outcomes OutcomeSource
	// Pool tells the warm containers of a namespace (GET .../pool) and the
	// runtime images being built (GET /api/v1/runtimes/building); nil
	// answers with 503.
	Pool InvokerPools
	// Cluster describes the cluster (GET /api/v1/cluster, admin key
	// only); nil answers with 503.
	Cluster ClusterReporter
	// Feeds carries out feed actions (/whisk.system/<package>/<feed>) and
	// serves feed ingress URLs; nil leaves feed actions to the invoker.
	Feeds FeedManager
	// Records stores the records of feed actions; nil keeps none.
	Records  ActivationWriter
	Manifest *actions.Manifest
	// BodyTimeout drops a request whose body sends nothing for this long
	// with 408 (and any body still arriving after MaxBodyTime); 0 means
	// DefaultBodyTimeout, below 0 no bound.
	BodyTimeout time.Duration
	// BodyMemory bounds the bytes of large request bodies (over 1 MB)
	// taken in at once; others wait, up to a minute, then get 503 with
	// Retry-After. 0 means DefaultBodyMemory, below 0 no bound.
	BodyMemory int64
	// Build names this build in GET /api/v1.
	Build  string
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Routes holds the API routes (wsk api); nil answers them with 404.
	Routes *Routes
	// Devices holds the MQTT devices' credentials (gust device); nil
	// answers .../devices with 404.
	Devices *Devices
	// BlockingWait bounds how long a web action's request waits for its
	// activation before it answers 202; 0 means 60 seconds, as OpenWhisk.
	BlockingWait time.Duration
	// Space, when set, tells whether there is room to store more
	// (hub.Hub): while it reports an error, requests that write (POST,
	// PUT and PATCH, and web actions, which run actions) get 507 with
	// what is full, and reads and deletes go on.
	Space SpaceChecker
	// Throttle enforces the namespaces' throttles with 429s; nil enforces
	// none.
	Throttle Throttler
}

// SpaceChecker reports, with a *hub.FullError, that storage is full.
type SpaceChecker interface {
	CheckSpace() error
}

// Server is the HTTP API.
type Server struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
	mux *http.ServeMux
	// fallbacks are the patterns that answer 404 or 405 for a path.
	fallbacks map[string]bool
	budget    *budget // nil: no bound
	patterns  []string
	// streamsEnd is closed by EndStreams.
	streamsEnd     chan struct{}
	endStreamsOnce sync.Once
}

// Body size limits: 1 MB for everything but action code, which OpenWhisk
// allows up to 48 MB (base64 makes it larger on the wire).
const (
	maxBodyBytes       = 1 << 20
	maxActionBodyBytes = actions.MaxCodeBytes*4/3 + maxBodyBytes
)

// New builds the API server.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux(), fallbacks: map[string]bool{}, streamsEnd: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case cfg.BodyMemory == 0:
		s.budget = newBudget(DefaultBodyMemory)
	case cfg.BodyMemory > 0:
		s.budget = newBudget(cfg.BodyMemory)
	}
	if s.cfg.Manifest == nil {
		s.cfg.Manifest = actions.DefaultManifest()
	}
	if s.cfg.Invocations == nil && s.cfg.Actions != nil {
		s.cfg.Invocations = s.cfg.Actions
	}
	s.routes()
	return s
}

// EndStreams ends the event streams (GET .../events) in flight, and any
// opened after, telling their clients that the server is shutting down.
// http.Server.Shutdown waits for every response, and a stream lasts until
// its client leaves: register EndStreams with
// http.Server.RegisterOnShutdown so that shutdown need not wait for them.
// It may be called more than once.
func (s *Server) EndStreams() {
	s.endStreamsOnce.Do(func() { close(s.streamsEnd) })
}

// ServeHTTP serves the API with CORS headers on every response.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	web := strings.HasPrefix(r.URL.Path, WebPrefix) // web actions answer CORS themselves
	if !web {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, DELETE, POST, PUT, HEAD")
		h.Set("Access-Control-Allow-Headers", "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
	}
	tid := newTransactionID()
	h.Set("X-Request-ID", tid)
	r = r.WithContext(context.WithValue(r.Context(), tidKey{}, tid))
	done, ok := s.admitBody(w, r)
	if !ok {
		return
	}
	defer done()
	s.boundBody(w, r)
	if r.Method == http.MethodOptions && !web && !strings.HasPrefix(r.URL.Path, feeds.ReceivePath) {
		w.WriteHeader(http.StatusOK)
		return
	}
	if s.cfg.Space != nil && writes(r, web) {
		if err := s.cfg.Space.CheckSpace(); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.Error("handler panicked", "path", r.URL.Path, "panic", v)
			s.writeError(w, r, errorf(http.StatusInternalServerError, msgInternal))
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// writes reports whether r would store something: a POST, PUT or
// PATCH, or any request to a web action, which runs one.
func writes(r *http.Request, web bool) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return web
}

type tidKey struct{}

func newTransactionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func transactionID(r *http.Request) string {
	if v, ok := r.Context().Value(tidKey{}).(string); ok {
		return v
	}
	return ""
}

// handlerFunc is an API handler; an error it returns is written by
// writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request, id *Identity) error

// authed wraps h with Basic authentication.
func (s *Server) authed(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authenticate(r)
		if err == nil {
			err = h(w, r, id)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) authenticate(r *http.Request) (*Identity, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return nil, errorf(http.StatusUnauthorized, msgUnauthorized)
	}
	id, err := s.cfg.Identities.Authenticate(r.Context(), user, pass)
	if err != nil {
		if errors.Is(err, ErrBadCredentials) {
			return nil, errorf(http.StatusUnauthorized, msgUnauthorized)
		}
		return nil, err
	}
	return id, nil
}

// namespace resolves the {ns} of the URL for the caller: "_" is the caller's
// own. own reports whether it is the caller's.
func namespace(r *http.Request, id *Identity) (ns string, own bool, err error) {
	ns = r.PathValue("ns")
	if ns == actions.DefaultNamespace || ns == id.Namespace {
		return id.Namespace, true, nil
	}
	if err := actions.CheckNamespace(ns); err != nil {
		return "", false, err
	}
	return ns, false, nil
}

// ownNamespace is namespace for operations only the owner may do. Another
// namespace is 404, as if it had nothing: whether it exists, and what it
// has, is not the caller's to learn.
func ownNamespace(r *http.Request, id *Identity) (string, error) {
	ns, own, err := namespace(r, id)
	if err != nil {
		return "", err
	}
	if !own {
		return "", errorf(http.StatusNotFound, msgNotFound)
	}
	return ns, nil
}

// patternMux is the server's mux that remembers the patterns registered
// on it, so that tests can require something of every route.
type patternMux struct {
	*http.ServeMux
	patterns *[]string
}

func (m patternMux) Handle(pattern string, h http.Handler) {
	*m.patterns = append(*m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m patternMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// Patterns returns the patterns of every route the server serves (as
// http.ServeMux patterns, such as "GET /api/v1/namespaces/{ns}/actions"),
// in the order they were registered.
func (s *Server) Patterns() []string { return slices.Clone(s.patterns) }

func (s *Server) routes() {
	m := patternMux{ServeMux: s.mux, patterns: &s.patterns}
	m.HandleFunc("GET /api/v1", s.info)
	m.HandleFunc("GET /api/v1/{$}", s.info)
	m.HandleFunc("GET /{$}", s.root)
	m.Handle("GET "+console.Prefix, console.Handler())
	m.Handle("GET "+strings.TrimSuffix(console.Prefix, "/"), http.RedirectHandler(console.Prefix, http.StatusMovedPermanently))
	m.HandleFunc("GET /api/v1/namespaces", s.authed(s.listNamespaces))
	m.HandleFunc("GET /api/v1/cluster", s.authed(s.getCluster))
	m.HandleFunc("GET /api/v1/namespaces/{$}", s.authed(s.listNamespaces))
	m.HandleFunc("PUT /api/v1/namespaces/{ns}", s.authed(s.createNamespace))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/limits", s.authed(s.limits))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/retention", s.authed(s.retention))
	m.HandleFunc("PUT /api/v1/namespaces/{ns}/retention", s.authed(s.retention))
	m.HandleFunc("PUT /api/v1/namespaces/{ns}/limits", s.authed(s.setLimits))

	m.HandleFunc("GET /api/v1/namespaces/{ns}/actions", s.authed(s.listActions))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/actions/{name...}", s.authed(s.getAction))
	m.HandleFunc("PUT /api/v1/namespaces/{ns}/actions/{name...}", s.authed(s.putAction))
	m.HandleFunc("DELETE /api/v1/namespaces/{ns}/actions/{name...}", s.authed(s.deleteAction))
	m.HandleFunc("POST /api/v1/namespaces/{ns}/actions/{name...}", s.authed(s.invokeAction))

	m.HandleFunc("GET /api/v1/namespaces/{ns}/packages", s.authed(s.listPackages))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/packages/{name}", s.authed(s.getPackage))
	m.HandleFunc("PUT /api/v1/namespaces/{ns}/packages/{name}", s.authed(s.putPackage))
	m.HandleFunc("DELETE /api/v1/namespaces/{ns}/packages/{name}", s.authed(s.deletePackage))

	m.HandleFunc("GET /api/v1/namespaces/{ns}/triggers", s.authed(s.listTriggers))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/triggers/{name}", s.authed(s.getTrigger))
	m.HandleFunc("PUT /api/v1/namespaces/{ns}/triggers/{name}", s.authed(s.putTrigger))
	m.HandleFunc("DELETE /api/v1/namespaces/{ns}/triggers/{name}", s.authed(s.deleteTrigger))
	m.HandleFunc("POST /api/v1/namespaces/{ns}/triggers/{name}", s.authed(s.fireTrigger))
	m.HandleFunc("POST /api/v1/namespaces/{ns}/triggers/{name}/replay", s.authed(s.replayTrigger))

	m.HandleFunc("GET /api/v1/namespaces/{ns}/rules", s.authed(s.listRules))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/rules/{name}", s.authed(s.getRule))
	m.HandleFunc("PUT /api/v1/namespaces/{ns}/rules/{name}", s.authed(s.putRule))
	m.HandleFunc("POST /api/v1/namespaces/{ns}/rules/{name}", s.authed(s.setRuleStatus))
	m.HandleFunc("DELETE /api/v1/namespaces/{ns}/rules/{name}", s.authed(s.deleteRule))

	m.HandleFunc("GET /api/v1/namespaces/{ns}/events", s.authed(s.streamEvents))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/pool", s.authed(s.getPool))
	m.HandleFunc("GET /api/v1/runtimes/building", s.authed(s.getRuntimeBuilds))

	m.HandleFunc("GET /api/v1/namespaces/{ns}/devices", s.authed(s.listDevices))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/devices/{name}", s.authed(s.getDevice))
	m.HandleFunc("PUT /api/v1/namespaces/{ns}/devices/{name}", s.authed(s.putDevice))
	m.HandleFunc("DELETE /api/v1/namespaces/{ns}/devices/{name}", s.authed(s.deleteDevice))

	m.HandleFunc("GET /api/v1/namespaces/{ns}/activations", s.authed(s.listActivations))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/activations/{id}", s.authed(s.getActivation))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/activations/{id}/logs", s.authed(s.getActivationLogs))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/activations/{id}/result", s.authed(s.getActivationResult))
	m.HandleFunc("POST /api/v1/namespaces/{ns}/activations/{id}/rerun", s.authed(s.rerunActivation))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/activations/{id}/tree", s.authed(s.getActivationTree))

	// The collections whose entities take more methods than they do: without
	// these, the mux would redirect a POST on a collection to its entity
	// pattern with 307.
	for _, c := range []string{"actions", "packages", "triggers", "rules", "activations"} {
		p := "/api/v1/namespaces/{ns}/" + c
		m.HandleFunc(p, s.unrouted)
		s.fallbacks[p] = true
	}

	// A feed's ingress URL: the feed checks its own token or signature.
	m.HandleFunc(feeds.ReceivePath+"{ns}/{trigger}", s.receiveFeed)
	m.HandleFunc(WebPrefix, s.webAction)
	m.HandleFunc(routesPattern, s.serveRoute) // API routes (wsk api)
	s.fallbacks[routesPattern] = true

	m.HandleFunc("/", s.unrouted)
}

// info answers GET /api/v1 (no auth), which the CLI reads for build info.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"description":      "OpenWhisk API",
		"api_version":      "1.0.0",
		"api_version_path": "v1",
		"build":            s.cfg.Build,
		"buildno":          s.cfg.Build,
		"swagger_paths":    map[string]string{"ui": "/docs", "api-docs": "/api/v1/api-docs"},
	})
}

// root answers GET / with the API paths and the runtimes, as OpenWhisk does.
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	byFamily := map[string][]map[string]any{}
	for _, rt := range s.cfg.Manifest.Runtimes() {
		byFamily[rt.Family] = append(byFamily[rt.Family], map[string]any{
			"kind": rt.Kind, "default": rt.Default, "deprecated": false,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"description": "Gust, an OpenWhisk-compatible serverless event hub",
		"api_paths":   []string{"/api/v1"},
		"runtimes":    byFamily,
		"limits":      limitsBody(s.defaultLimits()),
	})
}

// unrouted answers requests no route takes: 405 with Allow when the path
// has routes for other methods, else 404.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" && !s.fallbacks[pattern] {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		s.writeError(w, r, errorf(http.StatusNotFound, msgNotFound))
		return
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeError(w, r, errorf(http.StatusMethodNotAllowed, msgMethod+strings.Join(allowed, ", ")+"."))
}
