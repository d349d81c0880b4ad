package invoker

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrUnavailable marks a sandbox error that says the sandbox itself
// cannot be reached, such as a Docker engine that is restarting: no fault
// of the action, and likely to pass. An activation that gets it waits for
// the sandbox (up to a minute) instead of failing at once.
var ErrUnavailable = errors.New("sandbox unavailable")

// Sandbox creates the isolated environments that run an action proxy.
// invoker/docker implements it on a Docker engine and invoker/process as
// local child processes, the fallback when no engine is reachable.
type Sandbox interface {
	// Name is a short word for logs and status, such as "docker".
	Name() string
	// Create starts a container for spec and returns once its action proxy
	// accepts connections. The container has not been initialized: the pool
	// sends /init with the action's code.
	Create(ctx context.Context, spec Spec) (Container, error)
	// RemoveLeftovers removes the containers that an earlier run of the
	// invoker named owner left behind.
	RemoveLeftovers(ctx context.Context, owner string) error
}

// Spec describes one container to create.
type Spec struct {
	// Name is unique among the invoker's containers.
	Name string
	// Owner names the invoker that owns the container; RemoveLeftovers finds
	// containers by it.
	Owner string
	// Kind is the runtime kind ("nodejs:20", "blackbox", ...).
	Kind string
	// Image is the image to run. For runtime kinds it is Gust's own runtime
	// image; for blackbox actions the user's image.
	Image string
	// MemoryMB is the memory limit in MiB.
	MemoryMB int
	// Env is set in the container's environment (for example __OW_API_HOST).
	Env map[string]string
	// Labels are attached to the container (namespace, action, kind).
	Labels map[string]string
	// ProxySocket says the image runs Gust's own action proxy, which also
	// serves on the Unix socket named by $GUST_PROXY_SOCKET. The sandbox then
	// reaches it through that socket; otherwise through port 8080 (OpenWhisk's
	// port for blackbox images) published on 127.0.0.1.
	ProxySocket bool
}

// Container is one running action proxy.
type Container interface {
	// ID identifies the container to its sandbox.
	ID() string
	// Client and BaseURL reach the action proxy's /init and /run endpoints:
	// a Unix socket or a port published on 127.0.0.1, never a bridge IP.
	Client() *http.Client
	BaseURL() string
	// Logs delivers the lines the container writes on stdout and stderr, in
	// order within each stream; it is closed when both streams end. The
	// reader must keep draining it, or the action blocks on its output.
	Logs() <-chan LogLine
	// Pause freezes the container; Resume thaws it.
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	// Destroy stops and removes the container. It is idempotent.
	Destroy(ctx context.Context) error
	// OOMKilled reports whether the container was killed for exceeding its
	// memory limit.
	OOMKilled(ctx context.Context) bool
}

// LogLine is one line of container output.
type LogLine struct {
	Time   time.Time
	Stream string // "stdout" or "stderr"
	Text   string // without the trailing newline
}
