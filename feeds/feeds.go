package feeds

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/internal/registry"
)

// Emit puts one event on the feed's trigger. It returns once JetStream has
// stored the event, so a feed that acknowledges its upstream after Emit
// returns loses nothing. An event whose id the trigger saw within the dedup
// window is dropped, and Emit still returns nil.
type Emit func(ctx context.Context, e event.Event) error

// Feed is one running feed instance: the event source bound to one trigger.
//
// Run produces events until ctx ends, then returns nil; it must not call
// emit after it returns. An error means the instance failed: the manager
// logs it, shows it in the feed's status and runs the instance again after
// a backoff. A Run that returns nil before ctx ends has finished for good
// (a one-shot alarm that fired, a schedule past its stop date); return
// ErrDeleteTrigger to also have the trigger deleted.
type Feed interface {
	Run(ctx context.Context, emit Emit) error
}

// Receiver is a feed that takes its events over HTTP, at the URL the
// manager gives it (Config.URL). Every Gust process serves every receiver,
// lease or not, so a receiver keeps no state outside its Config.
//
// It is a capability of its own: a feed that only receives implements
// Receiver and not Feed's Run (New returns it as a Feed through Receive
// alone, see Source). One that also has work of its own (polling an
// upstream while it also takes pushes) implements both, and the manager
// runs it like any other feed.
//
// Receive answers one request: it checks the request, emits the events it
// carries and writes the success response. It returns a *RequestError for
// what the sender got wrong (the server writes it as OpenWhisk's error
// body) and any other error for what went wrong on Gust's side.
type Receiver interface {
	Receive(w http.ResponseWriter, r *http.Request, emit Emit) error
}

// Source is what a Provider's New builds: a Feed, a Receiver, or both.
// The manager runs a Feed on the instance's owner and serves a Receiver on
// every process; a value that is neither is a programming error that Build
// reports.
type Source = any

// Validator is a feed with checks that hold only when a feed is created or
// updated, not when an existing instance is built again (a once alarm's date
// must be in the future at CREATE; after a restart it may have passed).
// The manager calls Validate after New for CREATE and UPDATE.
type Validator interface {
	Validate() error
}

// Registrar is a feed that registers itself with its upstream when it is
// created and unregisters when it is deleted: a GitHub feed with an access
// token creates the repository's webhook.
//
// The manager calls Register at CREATE, after New and Validate and before
// the instance is stored; it may add parameters to p (the upstream's id of
// the registration), which are stored with the instance. If storing the
// instance then fails, the manager calls Unregister on a feed built from p.
// An error fails the CREATE and nothing is stored: return a *RequestError
// that says what the upstream answered. The manager calls Unregister at
// DELETE, before the instance is removed; an error fails the DELETE and
// keeps the instance. A registration the upstream no longer has is not an
// error.
type Registrar interface {
	Register(ctx context.Context, p Params) error
	Unregister(ctx context.Context) error
}

// Reregistrar is a Registrar whose upstream registration follows an
// UPDATE: a GitHub hook's events change with the feed's.
//
// The manager calls Reregister at UPDATE on the feed built from the merged
// parameters, after New and Validate and before the instance is stored;
// prev is the feed built from the stored parameters (nil when they no
// longer build). Reregister may change p (a new registration's id), which
// is stored. An error fails the UPDATE and the stored instance is kept:
// Reregister must leave the upstream as prev registered it when it fails.
type Reregistrar interface {
	Reregister(ctx context.Context, prev Source, p Params) error
}

// MaxReceiveBody is the largest request body the API passes to a
// Receiver: GitHub's own limit on webhook payloads, 25 MB. Receivers that
// take less read at most their own limit (ingress.ReadBody) and answer
// 413 beyond it.
const MaxReceiveBody = 25 << 20

// Provider describes one feed action: /whisk.system/<Package>/<Name>.
type Provider struct {
	// Package is the feed's package in the system namespace, e.g. "alarms".
	Package string
	// Name is the feed action's name in that package, e.g. "alarm".
	Name string
	// Description says in a sentence what the feed emits.
	Description string
	// Params declares the parameters the feed takes, with their types: the
	// framework parses and checks them before New (Build), New reads them
	// typed from cfg.Values, which refuses a parameter not declared here.
	// The list becomes the feed action's "parameters" annotation and drives
	// masking of secrets.
	Params []Param
	// New builds the instance from cfg without starting it: a Feed, a
	// Receiver, or both. It checks what the types cannot (a cron
	// expression's syntax, a range) and returns a *ParamError for an
	// invalid parameter. New may add generated parameters (a secret the
	// user did not give) to cfg.Params: the manager stores the parameters
	// after New returns. New must not block or start goroutines: it also
	// runs only to validate a CREATE or UPDATE.
	New func(cfg Config) (Source, error)
}

// Build parses cfg.Params as p declares them into cfg.Values, then calls
// p.New. A parameter that is missing or of the wrong type is a *ParamError
// and New does not run.
func (p Provider) Build(cfg Config) (Source, error) {
	if cfg.Params == nil {
		cfg.Params = Params{}
	}
	vals, err := ParseParams(p.Params, cfg.Params)
	if err != nil {
		return nil, err
	}
	cfg.Values = vals
	f, err := p.New(cfg)
	if err != nil {
		return nil, err
	}
	switch f.(type) {
	case Feed, Receiver:
		return f, nil
	}
	return nil, fmt.Errorf("feed %s: New returned %T, which is neither a feeds.Feed nor a feeds.Receiver", p.Path(), f)
}

// Path is the feed's name inside the system namespace: "package/name".
func (p Provider) Path() string { return p.Package + "/" + p.Name }

// Param declares one parameter of a feed. Its JSON is the feed action's
// "parameters" annotation, as OpenWhisk describes what a package takes.
type Param struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Type is how the framework parses the parameter; the zero Type, JSON,
	// takes any JSON value.
	Type Type `json:"-"`
	// Required parameters must be given (a String not blank).
	Required bool `json:"required"`
	// Secret parameters are masked when a feed's configuration is read.
	Secret bool `json:"-"`
	// Default is the value New reads when the parameter is not given, of
	// the Go type of its Type's getter (string, int64, bool,
	// time.Duration, time.Time; any JSON-marshalable value for JSON).
	Default any `json:"-"`
	// Enum lists the values an Enum parameter takes.
	Enum []string `json:"-"`
}

// Config is what a feed instance is built from.
type Config struct {
	// Trigger is the trigger the feed fires.
	Trigger actions.Name
	// Params are the feed's parameters as the user gave them (without the
	// lifecycle ones: lifecycleEvent, triggerName, authKey). New reads
	// Values; it writes here only the parameters it generates (Params.Set).
	Params Params
	// Values are Params parsed as the provider declares them (Build fills
	// them in).
	Values Values
	// URL is where a Receiver takes its events; empty for other feeds.
	URL string
	// Checkpoint keeps the instance's progress across restarts and owners.
	Checkpoint Checkpoint
	// Logger is tagged with the feed and trigger.
	Logger *slog.Logger
	// Now is the clock; never nil in a Config the manager builds.
	Now func() time.Time
	// Report records a condition of the running instance that READ shows
	// in its status, without ending the instance; nil outside a manager.
	Report func(Condition)
	// Egress is where the feed may connect on the user's behalf (a URL
	// among its parameters): check such URLs with Egress.CheckURL in New
	// and connect with Egress.Client or Egress.DialContext. nil allows
	// public addresses only.
	Egress *egress.Policy
}

// Condition is what a running feed instance reports of itself
// (Config.Report). Zero fields report nothing.
type Condition struct {
	// Connected, when set, is whether the instance is connected to its
	// upstream (an MQTT broker): READ shows it as status.connected. The
	// manager sets it false when the instance's Run returns.
	Connected *bool
	// Err is a problem that did not end the instance: READ shows it as
	// status.lastError.
	Err error
	// Dropped counts an upstream message the instance could not turn into
	// an event (too large): READ shows the count as status.dropped.
	Dropped bool
}

// Checkpoint keeps a feed instance's progress (the last alarm slot fired,
// an upstream cursor) in JetStream, so an instance resumes where it was
// after a restart or on another owner.
type Checkpoint interface {
	// Load returns the last saved checkpoint, nil when there is none.
	Load(ctx context.Context) ([]byte, error)
	// Save replaces the checkpoint.
	Save(ctx context.Context, b []byte) error
}

// ErrDeleteTrigger, returned by Run, means the instance is done and its
// trigger should be deleted too (the once alarm's deleteAfterFire).
var ErrDeleteTrigger = &deleteTrigger{}

// ErrDeleteTriggerAndRules is ErrDeleteTrigger that also deletes the
// trigger's rules (deleteAfterFire "rules").
var ErrDeleteTriggerAndRules = &deleteTrigger{rules: true}

type deleteTrigger struct{ rules bool }

func (d *deleteTrigger) Error() string {
	if d.rules {
		return "feed finished: delete the trigger and its rules"
	}
	return "feed finished: delete the trigger"
}

// ParamError is an invalid or missing feed parameter.
type ParamError struct {
	Name    string
	Problem string
}

func (e *ParamError) Error() string { return fmt.Sprintf("parameter '%s' %s", e.Name, e.Problem) }

// HTTPStatus is 400: the caller gave a bad parameter.
func (e *ParamError) HTTPStatus() int { return http.StatusBadRequest }

// Invalid returns a *ParamError for parameter name.
func Invalid(name, format string, args ...any) error {
	return &ParamError{Name: name, Problem: fmt.Sprintf(format, args...)}
}

// RequestError is what a Receiver answers a sender that got something
// wrong: the status (400, 401, 413, ...) and a message that says what.
type RequestError struct {
	Status  int
	Message string
}

func (e *RequestError) Error() string { return e.Message }

// HTTPStatus is the status the request is answered with.
func (e *RequestError) HTTPStatus() int { return e.Status }

// Reject returns a *RequestError.
func Reject(status int, format string, args ...any) error {
	return &RequestError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Registry holds providers by path. The zero value is not usable: use
// NewRegistry. A Registry is safe for concurrent use.
type Registry struct{ providers *registry.Registry[Provider] }

// NewRegistry returns an empty registry, for tests and embedders that want
// other feeds than the ones compiled in.
func NewRegistry() *Registry { return &Registry{providers: registry.New[Provider]()} }

// Register adds p. It panics when p is incomplete or its path is taken:
// both are programming errors found at start-up.
func (r *Registry) Register(p Provider) {
	if !registry.ValidName(p.Package) || !registry.ValidName(p.Name) || p.New == nil {
		panic(fmt.Sprintf("feeds: provider %q needs a lowercase Package, Name and a New function", p.Path()))
	}
	if !r.providers.Add(p.Path(), p) {
		panic(fmt.Sprintf("feeds: provider %s registered twice", p.Path()))
	}
}

// Lookup returns the provider of path "package/name".
func (r *Registry) Lookup(path string) (Provider, bool) { return r.providers.Lookup(path) }

// Providers returns every provider, sorted by path.
func (r *Registry) Providers() []Provider { return r.providers.All() }

var defaultRegistry = NewRegistry()

// Register adds p to the registry of the feeds compiled into this binary.
// Providers call it from init.
func Register(p Provider) { defaultRegistry.Register(p) }

// Registered returns the registry Register adds to.
func Registered() *Registry { return defaultRegistry }
