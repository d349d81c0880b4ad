package invoker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/registry"
)

// KindBuiltin is the exec kind of actions implemented in Go inside Gust:
// the invoker runs them without a container. Only actions in the system
// namespace may have it.
const KindBuiltin = "builtin"

// Call is one activation of a built-in action.
type Call struct {
	// Params are the activation's parameters: package, binding and action
	// defaults with the invocation's own over them.
	Params map[string]json.RawMessage
	// Namespace is the invoking namespace; ActivationID the activation's.
	Namespace    string
	ActivationID string
	// APIKey is the invoker's key when the action provides it.
	APIKey string
	// Egress is where the action may connect for the user (a URL among
	// its parameters): check such URLs with Egress.CheckURL and connect
	// with Egress.Client. nil allows public addresses only.
	Egress *egress.Policy

	mu   sync.Mutex
	logs []string
}

// Logf adds a line to the activation's logs, as an action's stdout.
func (c *Call) Logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = append(c.logs, FormatLogLine(LogLine{Time: time.Now(), Stream: "stdout", Text: fmt.Sprintf(format, args...)}))
}

// String returns the string parameter name, "" when it is absent; ok is
// false when it is set but not a string.
func (c *Call) String(name string) (s string, ok bool) {
	v, set := c.Params[name]
	if !set || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return "", true
	}
	ok = json.Unmarshal(v, &s) == nil
	return s, ok
}

// BuiltinFunc runs one activation: its result (any JSON-marshalable value,
// a JSON object) or an error, which becomes the activation's
// {"error": "<message>"} with status application error. It must honour
// ctx, which ends at the action's time limit.
type BuiltinFunc func(ctx context.Context, c *Call) (any, error)

// Builtin is an action implemented in Go: /whisk.system/<Package>/<Name>.
type Builtin struct {
	Package, Name string
	// Description says in a sentence what it does; Params document its
	// parameters (the "parameters" annotation, as OpenWhisk's packages do).
	Description string
	Params      []BuiltinParam
	Run         BuiltinFunc
}

// BuiltinParam documents one parameter of a built-in action.
type BuiltinParam struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required"`
}

// Path is "package/name".
func (b Builtin) Path() string { return b.Package + "/" + b.Name }

// Builtins is a registry of built-in actions. The zero value is not
// usable: use NewBuiltins. It is safe for concurrent use.
type Builtins struct{ by *registry.Registry[Builtin] }

// NewBuiltins returns an empty registry, for tests and embedders.
func NewBuiltins() *Builtins { return &Builtins{by: registry.New[Builtin]()} }

// Register adds b; it panics when b is incomplete or its path is taken.
func (r *Builtins) Register(b Builtin) {
	if !registry.ValidName(b.Package) || !registry.ValidName(b.Name) || b.Run == nil {
		panic(fmt.Sprintf("invoker: built-in action %q needs a lowercase Package, Name and a Run function", b.Path()))
	}
	if !r.by.Add(b.Path(), b) {
		panic(fmt.Sprintf("invoker: built-in action %s registered twice", b.Path()))
	}
}

// Lookup returns the built-in action "package/name".
func (r *Builtins) Lookup(path string) (Builtin, bool) { return r.by.Lookup(path) }

// All returns every built-in action, sorted by path.
func (r *Builtins) All() []Builtin { return r.by.All() }

var defaultBuiltins = NewBuiltins()

// RegisterBuiltin adds b to the built-in actions compiled into this binary;
// packages call it from init.
func RegisterBuiltin(b Builtin) { defaultBuiltins.Register(b) }

// RegisteredBuiltins returns the registry RegisterBuiltin adds to.
func RegisteredBuiltins() *Builtins { return defaultBuiltins }

// builtinOf returns the Go function of a, when a is a built-in action.
func (iv *Invoker) builtinOf(a *actions.Action) (Builtin, bool) {
	if a.Exec.Kind != KindBuiltin {
		return Builtin{}, false
	}
	n := a.FullName()
	if n.Namespace != actions.SystemNamespace || n.Package == "" {
		return Builtin{}, false
	}
	return iv.builtins.Lookup(n.Package + "/" + n.Name)
}

// runBuiltin runs a built-in action in this process, with the action's
// time limit, and records it as any activation.
func (iv *Invoker) runBuiltin(ctx context.Context, b Builtin, inv *actions.Invocation) *actions.Activation {
	rec := iv.newRecord(inv)
	a := &inv.Action
	start := time.Now()
	var params map[string]json.RawMessage
	if err := json.Unmarshal(inv.Params(), &params); err != nil || params == nil {
		params = map[string]json.RawMessage{}
	}
	c := &Call{Params: params, Namespace: inv.Namespace, ActivationID: inv.ActivationID, Egress: iv.opts.Egress}
	if inv.APIKey != "" && providesAPIKey(a) {
		c.APIKey = inv.APIKey
	}
	limit := time.Duration(a.Limits.Timeout) * time.Millisecond
	if limit <= 0 {
		limit = time.Minute
	}
	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	out := callBuiltin(runCtx, b, c)
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		out = failed(actions.StatusDeveloperError, timeoutMessage(a.Limits.Timeout, false))
		out.timeout = true
	}
	c.mu.Lock()
	logs := append([]string(nil), c.logs...)
	c.mu.Unlock()
	return iv.finish(rec, inv, start, 0, startWarm, out, logs)
}

// callBuiltin runs b, turning its error into an application error and a
// panic into a developer error.
func callBuiltin(ctx context.Context, b Builtin, c *Call) (out outcome) {
	defer func() {
		if v := recover(); v != nil {
			c.Logf("panic: %v\n%s", v, debug.Stack())
			out = failed(actions.StatusDeveloperError, fmt.Sprintf("The built-in action %s failed: %v", b.Path(), v))
		}
	}()
	res, err := b.Run(ctx, c)
	if err != nil {
		return failed(actions.StatusApplicationError, err.Error())
	}
	body, err := json.Marshal(res)
	if err != nil || len(body) == 0 || body[0] != '{' {
		return failed(actions.StatusDeveloperError, fmt.Sprintf("The built-in action %s did not return a JSON object.", b.Path()))
	}
	if len(body) > MaxResultBytes {
		return failed(actions.StatusApplicationError, fmt.Sprintf("The action produced a response that exceeded the allowed length: %d > %d bytes.", len(body), MaxResultBytes))
	}
	return outcome{status: actions.StatusSuccess, result: body, healthy: true}
}

// BuiltinStore is what InstallBuiltins needs of the action store.
type BuiltinStore interface {
	GetAction(ctx context.Context, n actions.Name, withCode bool) (*actions.Action, uint64, error)
	PutAction(ctx context.Context, a *actions.Action, rev uint64) (uint64, error)
	GetPackage(ctx context.Context, n actions.Name) (*actions.Package, uint64, error)
	PutPackage(ctx context.Context, p *actions.Package, rev uint64) (uint64, error)
}

// InstallBuiltins puts each built-in action of reg in the system namespace,
// in its package, published so that every namespace can invoke and bind
// it. A package that exists (the feeds' own) is left as it is; an action
// already as it should be too.
func InstallBuiltins(ctx context.Context, store BuiltinStore, reg *Builtins, now time.Time) error {
	for _, b := range reg.All() {
		pn := actions.Name{Namespace: actions.SystemNamespace, Name: b.Package}
		if _, _, err := store.GetPackage(ctx, pn); errors.Is(err, hub.ErrNotFound) {
			p := actions.Package{Namespace: actions.SystemNamespace, Name: b.Package, Version: actions.InitialVersion,
				Publish: true, Updated: now.UnixMilli(),
				Annotations: actions.KeyValues{}.Set("description", "Gust's built-in "+b.Package+" actions")}
			if _, err := store.PutPackage(ctx, &p, 0); err != nil && !errors.Is(err, hub.ErrExists) {
				return fmt.Errorf("install package %s: %w", b.Package, err)
			}
		} else if err != nil {
			return fmt.Errorf("install package %s: %w", b.Package, err)
		}
		n := actions.Name{Namespace: actions.SystemNamespace, Package: b.Package, Name: b.Name}
		params := b.Params
		if params == nil {
			params = []BuiltinParam{}
		}
		want := actions.Action{Namespace: n.Path(), Name: b.Name, Version: actions.InitialVersion,
			Exec:   actions.Exec{Kind: KindBuiltin, Code: "// Built into Gust: " + b.Description},
			Limits: actions.DefaultLimits(), Publish: true, Updated: now.UnixMilli(),
			Annotations: actions.KeyValues{}.
				Set("description", b.Description).
				Set("parameters", params).
				Set("exec", KindBuiltin).
				Set("provide-api-key", false)}
		cur, rev, err := store.GetAction(ctx, n, true)
		if err != nil && !errors.Is(err, hub.ErrNotFound) {
			return fmt.Errorf("install built-in %s: %w", b.Path(), err)
		}
		if cur != nil && cur.Exec.Kind == KindBuiltin && cur.Exec.Code == want.Exec.Code && sameJSON(cur.Annotations, want.Annotations) {
			continue
		}
		if _, err := store.PutAction(ctx, &want, rev); err != nil && !errors.Is(err, hub.ErrExists) && !errors.Is(err, hub.ErrConflict) {
			return fmt.Errorf("install built-in %s: %w", b.Path(), err)
		}
	}
	return nil
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
