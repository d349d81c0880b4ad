package docker

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"github.com/docker/go-units"

	"github.com/gusthub/gust/actions/proxy"
	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker"
)

// Labels that Create puts on every container.
const (
	LabelOwner     = "gust.owner"
	LabelNamespace = "gust.namespace"
	LabelAction    = "gust.action"
	LabelKind      = "gust.kind"
	// LabelSocketDir names the host directory bind-mounted for the proxy
	// socket, so that RemoveLeftovers can remove it too.
	LabelSocketDir = "gust.socket-dir"
)

// Paths and values inside a container that runs Gust's action proxy.
const (
	// APIMount is where Options.APISocketDir is mounted.
	APIMount = "/gust/api"
	// APISocketEnv tells the proxy where the API's socket is.
	APISocketEnv = proxy.APISocketEnv
	// ForwarderPath is where Options.APIForwarder is mounted in a blackbox
	// container; its name makes the gust executable act as the proxy.
	ForwarderPath = "/gust/" + proxy.ProgramName
	// SocketMount is where the per-container socket directory is mounted.
	SocketMount = "/gust/run"
	// SocketEnv names the environment variable that tells the proxy where
	// to listen.
	SocketEnv = proxy.SocketEnv
	// SocketPath is the value of $GUST_PROXY_SOCKET.
	SocketPath = SocketMount + "/proxy.sock"
	// ProxyPort is the container port of OpenWhisk's action proxy.
	ProxyPort = 8080
	// RuntimeUser is the user Gust's runtime images run as (nobody).
	RuntimeUser = "65534:65534"
)

const runtimeUID = 65534

// minMemoryMB is the smallest memory limit the Docker engine accepts.
const minMemoryMB = 6

// ErrImageNotFound is returned when an image is not present on the engine.
// Gust never pulls images from a registry.
var ErrImageNotFound = errors.New("image not found on the Docker engine")

// ErrClosed is returned by the methods of a closed Sandbox.
var ErrClosed = errors.New("docker sandbox closed")

// Options configures a Sandbox. The zero value is usable.
type Options struct {
	// SocketDir is the host directory under which Create makes one
	// directory per container for the proxy's Unix socket. The Docker
	// engine must be able to bind-mount it, so it must be on the engine's
	// host. Default: $TMPDIR/gust-proxy.
	SocketDir string
	// Network is the container network mode ("bridge", "none", a network
	// name). Empty means the engine's default. Containers reached through a
	// published port need a network that publishes ports.
	Network string
	// Labels are added to every container Create makes.
	Labels map[string]string
	// Tmpfs maps a path inside containers of Gust's runtime images to
	// tmpfs mount options; these are the only writable places of their
	// read-only root file system. Default: /tmp and /action, 64 MiB each,
	// writable by everyone. Tmpfs usage counts against the memory limit.
	Tmpfs map[string]string
	// PidsLimit limits the number of processes and threads in a container.
	// Default: 1024, as OpenWhisk.
	PidsLimit int64
	// NoFile is the soft and hard limit of open files. Default: 1024.
	NoFile int64
	// UserMemoryMB is the memory all action containers share (the pool's
	// capacity). A container gets CPU shares in proportion to its part of
	// it, as OpenWhisk does (--cpu-shares): 1024 × memory / UserMemoryMB,
	// at least 2. Default: 2048.
	UserMemoryMB int
	// UserCPUs, when above zero, is the CPU time all action containers may
	// use together: a container gets a quota (--cpus) of UserCPUs ×
	// memory / UserMemoryMB, rounded to 0.01 and at least 0.01, as
	// OpenWhisk's optional user-cpus. Zero sets no quota.
	UserCPUs float64
	// ReadOnlyBlackbox also runs blackbox images (Spec.ProxySocket false)
	// with a read-only root file system. Stock OpenWhisk images write to
	// their root file system, so the default is false.
	ReadOnlyBlackbox bool
	// APISocketDir is a host directory holding Gust's API on a Unix
	// socket, api.sock. When set, it is mounted into containers of Gust's
	// runtime images, whose proxy then serves the API to the action on the
	// container's own 127.0.0.1 (actions/proxy APISocketEnv): an action
	// reaches __OW_API_HOST with no route from the container to the host.
	APISocketDir string
	// APIForwarder is the host path of a statically linked gust
	// executable. With APISocketDir, blackbox containers (Spec.ProxySocket
	// false) get it mounted read-only at ForwarderPath and run it first:
	// it forwards the API as Gust's runtimes do and runs the image's own
	// command under it (actions/proxy, -supervise), so that a stock
	// OpenWhisk image's action reaches __OW_API_HOST too. A dynamically
	// linked executable would not run in another image; New then leaves
	// blackbox containers as their images are, without the API, and logs
	// why.
	APIForwarder string
	// Logger receives the sandbox's logs. Nil discards them.
	Logger *slog.Logger
	// Client is the Docker client to use. Default: one from the
	// environment (DOCKER_HOST, ...) with API version negotiation. The
	// Sandbox closes it on Close.
	Client *client.Client
}

// Sandbox creates containers on a Docker engine. It implements
// invoker.Sandbox. Its methods are safe for concurrent use.
type Sandbox struct {
	cli       *client.Client
	log       *slog.Logger
	socketDir string
	apiDir    string
	forwarder string // Options.APIForwarder, when usable
	network   string
	labels    map[string]string
	tmpfs     map[string]string
	pids      int64
	nofile    int64
	userMem   int
	userCPUs  float64
	roBlack   bool

	// strays are containers the engine may hold that the sandbox could
	// not remove, or never learned the id of, while the engine was
	// unreachable: by id or name, with their socket directories. Create
	// removes them once the engine answers again.
	strayMu sync.Mutex
	strays  map[string]string

	builds   flight // concurrent EnsureImage calls, by tag
	buildMu  sync.Mutex
	building map[string]string // kind by tag, of the images being built
	// recipes are those EnsureImage made sure of, by tag: a runtime image
	// removed since (another Gust's pruning) is built again at its next
	// create instead of failing it.
	recipes  map[string]runtimes.Recipe
	nbuilds  atomic.Int64 // images built, for tests
	closeMu  sync.Mutex
	isClosed bool
}

var _ invoker.Sandbox = (*Sandbox)(nil)

// New returns a Sandbox configured by opts. It does not contact the engine;
// use Ping to check that it is reachable.
func New(opts Options) (*Sandbox, error) {
	cli := opts.Client
	if cli == nil {
		var err error
		cli, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("docker client: %w", err)
		}
	}
	s := &Sandbox{
		cli:       cli,
		log:       opts.Logger,
		socketDir: opts.SocketDir,
		apiDir:    opts.APISocketDir,
		network:   opts.Network,
		labels:    maps.Clone(opts.Labels),
		tmpfs:     maps.Clone(opts.Tmpfs),
		pids:      opts.PidsLimit,
		nofile:    opts.NoFile,
		userMem:   opts.UserMemoryMB,
		userCPUs:  opts.UserCPUs,
		roBlack:   opts.ReadOnlyBlackbox,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.APIForwarder != "" && opts.APISocketDir != "" {
		if err := checkStatic(opts.APIForwarder); err != nil {
			s.log.Warn("blackbox actions cannot call the API: build gust with CGO_ENABLED=0 (make build does) so that it runs in their images",
				"err", err)
		} else {
			s.forwarder = opts.APIForwarder
		}
	}
	s.log = s.log.With("sandbox", "docker")
	if s.socketDir == "" {
		s.socketDir = filepath.Join(os.TempDir(), "gust-proxy")
	}
	if s.tmpfs == nil {
		s.tmpfs = map[string]string{
			"/tmp":    "rw,nosuid,nodev,size=64m,mode=1777",
			"/action": "rw,nosuid,nodev,exec,size=64m,mode=1777",
		}
	}
	if s.pids <= 0 {
		s.pids = 1024
	}
	if s.nofile <= 0 {
		s.nofile = 1024
	}
	if s.userMem <= 0 {
		s.userMem = DefaultUserMemoryMB
	}
	return s, nil
}

// Name returns "docker".
func (s *Sandbox) Name() string { return "docker" }

// Ping checks that the engine answers.
func (s *Sandbox) Ping(ctx context.Context) error {
	if _, err := s.cli.Ping(ctx); err != nil {
		return fmt.Errorf("ping docker engine: %w", err)
	}
	return nil
}

// Close cancels image builds in progress, waits for them to end and
// closes the connection to the engine. It does not remove containers. It
// is idempotent.
func (s *Sandbox) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.isClosed {
		return nil
	}
	s.isClosed = true
	s.builds.stop()
	if err := s.cli.Close(); err != nil {
		return fmt.Errorf("close docker client: %w", err)
	}
	return nil
}

func (s *Sandbox) closed() bool {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	return s.isClosed
}

// Create creates and starts a container for spec and returns once its
// action proxy accepts connections. If the container exits first, or ctx
// ends first, Create removes it and returns an error. A missing image is
// reported as ErrImageNotFound: Create never pulls.
func (s *Sandbox) Create(ctx context.Context, spec invoker.Spec) (invoker.Container, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	if spec.Image == "" {
		return nil, errors.New("create container: spec has no image")
	}
	if spec.MemoryMB < minMemoryMB {
		return nil, fmt.Errorf("create container %s: memory limit %d MiB is below the engine's minimum of %d MiB", spec.Name, spec.MemoryMB, minMemoryMB)
	}
	var sockDir string
	if spec.ProxySocket {
		var err error
		if sockDir, err = s.makeSocketDir(); err != nil {
			return nil, fmt.Errorf("create container %s: %w", spec.Name, err)
		}
	}
	var command []string // a blackbox image's own, run under the forwarder
	if !spec.ProxySocket && s.forwarder != "" {
		var err error
		if command, err = s.imageCommand(ctx, spec.Image); err != nil {
			return nil, err
		}
	}
	s.removeStrays(ctx)
	cfg, hc := s.containerConfig(spec, sockDir, command)
	created, err := s.cli.ContainerCreate(ctx, cfg, hc, nil, nil, spec.Name)
	if errdefs.IsNotFound(err) && s.rebuilt(ctx, spec.Image) {
		created, err = s.cli.ContainerCreate(ctx, cfg, hc, nil, nil, spec.Name)
	}
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			// The engine may have made it before the connection broke.
			s.addStray(spec.Name, sockDir)
		} else {
			removeSocketDir(s.log, sockDir)
		}
		if errdefs.IsNotFound(err) {
			return nil, imageNotFound(spec.Image)
		}
		return nil, engineError(fmt.Errorf("create container %s: %w", spec.Name, err))
	}
	c := newContainer(s, created.ID, spec.Name, sockDir)
	if err := c.start(ctx); err != nil {
		// ctx may be done; removal must still happen.
		if derr := c.Destroy(context.WithoutCancel(ctx)); derr != nil {
			s.log.Warn("remove failed container", "container", created.ID, "err", derr)
		}
		return nil, engineError(err)
	}
	return c, nil
}

// engineError marks err with invoker.ErrUnavailable when it says the
// engine could not be reached (or the connection to it broke), so that
// the activation waits for the engine instead of failing.
func engineError(err error) error {
	if client.IsErrConnectionFailed(err) || dialFailed(err) || connectionBroke(err) {
		return fmt.Errorf("%w: %w", invoker.ErrUnavailable, err)
	}
	return err
}

// dialFailed reports whether err says that the engine's socket could not
// be dialed: the hijacked connection of an attach reports it so ("cannot
// connect to the Docker daemon", wrapping the dial's error), not as the
// client's connection error.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// connectionBroke reports whether err says that the engine closed a
// connection under way: an attach's, when the engine stops as it starts
// the container ("read: connection reset by peer", or "unexpected EOF"
// when it closed the connection within its answer to the attach).
func connectionBroke(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// addStray remembers a container (its id or name) that could not be
// removed because the engine was unreachable, and its socket directory.
func (s *Sandbox) addStray(ref, sockDir string) {
	s.strayMu.Lock()
	defer s.strayMu.Unlock()
	if s.strays == nil {
		s.strays = map[string]string{}
	}
	s.strays[ref] = sockDir
}

// removeStrays removes the containers addStray remembered, until the
// engine is found still unreachable.
func (s *Sandbox) removeStrays(ctx context.Context) {
	s.strayMu.Lock()
	strays := maps.Clone(s.strays)
	s.strayMu.Unlock()
	for ref, dir := range strays {
		err := s.cli.ContainerRemove(ctx, ref, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if client.IsErrConnectionFailed(err) || ctx.Err() != nil {
			return
		}
		if err != nil && !errdefs.IsNotFound(err) {
			s.log.Warn("remove a container left while the engine was unreachable", "container", ref, "err", err)
		}
		s.strayMu.Lock()
		delete(s.strays, ref)
		s.strayMu.Unlock()
		removeSocketDir(s.log, dir)
		if err == nil {
			s.log.Info("removed a container left while the engine was unreachable", "container", ref)
		}
	}
}

// containerConfig returns the container and host configuration for spec;
// a blackbox image's command, when given, runs under the API forwarder.
func (s *Sandbox) containerConfig(spec invoker.Spec, sockDir string, command []string) (*container.Config, *container.HostConfig) {
	env := make([]string, 0, len(spec.Env)+1)
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		env = append(env, k+"="+spec.Env[k])
	}
	labels := maps.Clone(s.labels)
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range spec.Labels {
		if !strings.Contains(k, ".") {
			k = "gust." + k // "namespace" → "gust.namespace"
		}
		labels[k] = v
	}
	delete(labels, LabelSocketDir) // only the sandbox sets it
	labels[LabelOwner] = spec.Owner
	labels[LabelKind] = spec.Kind
	mem := int64(spec.MemoryMB) << 20
	pids := s.pids
	cfg := &container.Config{
		Image:  spec.Image,
		Env:    env,
		Labels: labels,
	}
	hc := &container.HostConfig{
		// Output reaches the invoker through attach. Docker's own log file
		// would only cost CPU per line and grow without bound for a chatty
		// action.
		LogConfig:   container.LogConfig{Type: "none"},
		NetworkMode: container.NetworkMode(s.network),
		Resources: container.Resources{
			Memory:     mem,
			MemorySwap: mem,
			PidsLimit:  &pids,
			Ulimits:    []*units.Ulimit{{Name: "nofile", Soft: s.nofile, Hard: s.nofile}},
			CPUShares:  CPUShares(spec.MemoryMB, s.userMem),
			NanoCPUs:   nanoCPUs(spec.MemoryMB, s.userMem, s.userCPUs),
		},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: spec.ProxySocket || s.roBlack,
	}
	if hc.ReadonlyRootfs {
		hc.Tmpfs = maps.Clone(s.tmpfs)
	}
	if spec.ProxySocket {
		cfg.User = RuntimeUser
		cfg.Env = append(cfg.Env, SocketEnv+"="+SocketPath)
		cfg.Labels[LabelSocketDir] = sockDir
		hc.Binds = []string{sockDir + ":" + SocketMount + ":rw"}
		if s.apiDir != "" {
			s.mountAPI(cfg, hc)
		}
	} else {
		port := nat.Port(fmt.Sprintf("%d/tcp", ProxyPort))
		cfg.ExposedPorts = nat.PortSet{port: struct{}{}}
		hc.PortBindings = nat.PortMap{port: {{HostIP: "127.0.0.1", HostPort: ""}}}
		if len(command) > 0 {
			cfg.Entrypoint = []string{ForwarderPath, "-supervise", "--"}
			cfg.Cmd = command
			hc.Binds = []string{s.forwarder + ":" + ForwarderPath + ":ro"}
			s.mountAPI(cfg, hc)
		}
	}
	return cfg, hc
}

// DefaultUserMemoryMB is Options.UserMemoryMB's default, the invoker's
// default memory.
const DefaultUserMemoryMB = 2048

// CPUShares is the CPU weight of a container of memoryMB among containers
// sharing userMemoryMB: OpenWhisk's max(1024 × memory / user memory, 2).
func CPUShares(memoryMB, userMemoryMB int) int64 {
	return max(1024*int64(memoryMB)/int64(max(userMemoryMB, 1)), 2)
}

// nanoCPUs is the CPU quota of a container of memoryMB when all containers
// together may use cpus CPUs: 0 (none) when cpus is not positive.
func nanoCPUs(memoryMB, userMemoryMB int, cpus float64) int64 {
	if cpus <= 0 {
		return 0
	}
	c := math.Round(cpus*float64(memoryMB)/float64(max(userMemoryMB, 1))*100) / 100
	return int64(max(c, 0.01) * 1e9)
}

// mountAPI mounts the API's socket directory and tells the proxy where
// its socket is.
func (s *Sandbox) mountAPI(cfg *container.Config, hc *container.HostConfig) {
	hc.Binds = append(hc.Binds, s.apiDir+":"+APIMount+":ro")
	cfg.Env = append(cfg.Env, APISocketEnv+"="+APIMount+"/api.sock")
}

// imageCommand is what a container of image ref runs unless told
// otherwise: its entrypoint followed by its cmd. An image that names none
// gives nil, and its container is created as it is (and fails as it would).
func (s *Sandbox) imageCommand(ctx context.Context, ref string) ([]string, error) {
	ins, err := s.cli.ImageInspect(ctx, ref)
	if errdefs.IsNotFound(err) {
		return nil, imageNotFound(ref)
	}
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if ins.Config == nil {
		return nil, nil
	}
	return append(slices.Clone(ins.Config.Entrypoint), ins.Config.Cmd...), nil
}

// checkStatic returns an error unless the executable at path is a
// statically linked ELF file (one that names no dynamic loader), which
// runs in any Linux image.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

// makeSocketDir makes a fresh directory for one container's proxy socket,
// writable by the runtime user.
func (s *Sandbox) makeSocketDir() (string, error) {
	// A socket path must fit in sockaddr_un's 108 bytes.
	if len(s.socketDir)+len("/c1234567890/proxy.sock") >= 108 {
		return "", fmt.Errorf("socket directory %s: path too long for Unix sockets", s.socketDir)
	}
	if err := os.MkdirAll(s.socketDir, 0o755); err != nil {
		return "", fmt.Errorf("make socket directory: %w", err)
	}
	dir, err := os.MkdirTemp(s.socketDir, "c")
	if err != nil {
		return "", fmt.Errorf("make socket directory: %w", err)
	}
	// Hand the directory to the runtime user; without the privilege to do
	// so, let everyone write it.
	if err := os.Chown(dir, runtimeUID, runtimeUID); err != nil {
		err = os.Chmod(dir, 0o777)
		if err != nil {
			os.Remove(dir)
			return "", fmt.Errorf("make socket directory writable: %w", err)
		}
	}
	return dir, nil
}

// removeSocketDir removes a container's socket directory, if any.
func removeSocketDir(log *slog.Logger, dir string) {
	if dir == "" {
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		log.Warn("remove socket directory", "dir", dir, "err", err)
	}
}

// RemoveLeftovers force-removes every container labeled with owner, with
// their socket directories.
func (s *Sandbox) RemoveLeftovers(ctx context.Context, owner string) error {
	if s.closed() {
		return ErrClosed
	}
	list, err := s.cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelOwner+"="+owner)),
	})
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", owner, err)
	}
	var errs []error
	for _, c := range list {
		err := s.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID, err))
			continue
		}
		if dir := c.Labels[LabelSocketDir]; s.ownsSocketDir(dir) {
			removeSocketDir(s.log, dir)
		}
		s.log.Info("removed leftover container", "container", c.ID, "owner", owner)
	}
	return errors.Join(errs...)
}

// ownsSocketDir reports whether dir is a per-container directory directly
// under the sandbox's socket directory, so that a label cannot make it
// remove anything else.
func (s *Sandbox) ownsSocketDir(dir string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(s.socketDir, dir)
	return err == nil && rel != "." && !strings.Contains(rel, string(filepath.Separator)) && !strings.HasPrefix(rel, "..")
}

// imageNotFound returns the error for a missing image.
func imageNotFound(ref string) error {
	return fmt.Errorf("%w: %s (Gust does not pull images from registries; build or load it on this engine first)", ErrImageNotFound, ref)
}
