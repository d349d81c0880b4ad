package process

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gusthub/gust/actions/proxy"
	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker"
)

// ErrBlackbox says a Spec needs an image of its own (a blackbox action),
// which only a container engine can run.
var ErrBlackbox = errors.New("process sandbox: blackbox images need a container engine")

// maxSocketPath is the longest Unix socket path every platform accepts.
const maxSocketPath = 104

// pidFile names the file in a container's directory that holds the pid of
// its proxy, which leads its process group.
const pidFile = "pid"

// Options configures a Sandbox.
type Options struct {
	// ProxyBinary is the gust executable (os.Executable()), which acts as
	// the action proxy when started with argv[0] "gust-proxy". Required.
	ProxyBinary string
	// StateDir holds the containers' directories. Default:
	// $TMPDIR/gust-process. Keep it short: it is part of Unix socket paths,
	// which are limited to about 100 bytes.
	StateDir string
	// Logger is tagged with sandbox=process. Nil discards them.
	Logger *slog.Logger
}

// Sandbox runs containers as local child processes. It implements
// invoker.Sandbox.
type Sandbox struct {
	proxy string
	state string
	log   *slog.Logger
}

var _ invoker.Sandbox = (*Sandbox)(nil)

// New returns a Sandbox. It checks that the proxy binary exists and starts
// nothing.
func New(opts Options) (*Sandbox, error) {
	if opts.ProxyBinary == "" {
		return nil, errors.New("process sandbox: no proxy binary")
	}
	if _, err := os.Stat(opts.ProxyBinary); err != nil {
		return nil, fmt.Errorf("process sandbox: proxy binary: %w", err)
	}
	s := &Sandbox{proxy: opts.ProxyBinary, state: opts.StateDir, log: opts.Logger}
	if s.state == "" {
		s.state = filepath.Join(os.TempDir(), "gust-process")
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("sandbox", "process")
	return s, nil
}

// Name returns "process".
func (s *Sandbox) Name() string { return "process" }

// Create starts the action proxy for spec as a child process in its own
// process group, serving on a Unix socket in the container's directory, and
// returns once the proxy accepts connections.
func (s *Sandbox) Create(ctx context.Context, spec invoker.Spec) (invoker.Container, error) {
	if !spec.ProxySocket {
		return nil, fmt.Errorf("create %s (kind %s, image %s): %w", spec.Name, spec.Kind, spec.Image, ErrBlackbox)
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.state, ownerDir(spec.Owner), id)
	sock := filepath.Join(dir, "proxy.sock")
	if len(sock) >= maxSocketPath {
		return nil, fmt.Errorf("create %s: socket path %s is too long; choose a shorter state directory", spec.Name, sock)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", spec.Name, err)
	}
	c, err := s.start(ctx, spec, id, dir, sock)
	if err != nil {
		if rerr := os.RemoveAll(dir); rerr != nil {
			s.log.Warn("remove container directory", "dir", dir, "err", rerr)
		}
		return nil, fmt.Errorf("create %s: %w", spec.Name, err)
	}
	s.log.Debug("container started", "container", id, "name", spec.Name, "kind", spec.Kind, "pid", c.cmd.Process.Pid)
	return c, nil
}

func (s *Sandbox) start(ctx context.Context, spec invoker.Spec, id, dir, sock string) (*container, error) {
	args, err := runtimes.HostArgs(spec.Kind, dir)
	if err != nil {
		return nil, err
	}
	kindEnv, err := runtimes.HostEnv(spec.Kind)
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"PATH":   os.Getenv("PATH"),
		"HOME":   dir,
		"TMPDIR": filepath.Join(dir, "tmp"),
		"LANG":   "C.UTF-8",
	}
	maps.Copy(env, kindEnv)
	maps.Copy(env, spec.Env)
	env[proxy.SocketEnv] = sock

	cmd := &exec.Cmd{
		Path:        s.proxy,
		Args:        append([]string{proxy.ProgramName, "-addr=", "-socket", sock, "-dir", filepath.Join(dir, "action")}, args...),
		Env:         environ(env),
		Dir:         dir,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	c, err := startContainer(cmd, id, dir, sock, s.log.With("container", id))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(c.cmd.Process.Pid)), 0o644); err != nil {
		return nil, errors.Join(fmt.Errorf("write pid file: %w", err), c.Destroy(ctx))
	}
	if err := c.waitReady(ctx); err != nil {
		return nil, errors.Join(err, c.Destroy(context.WithoutCancel(ctx)))
	}
	return c, nil
}

// RemoveLeftovers kills the proxies that an earlier run of the invoker
// named owner left running, and removes their directories.
func (s *Sandbox) RemoveLeftovers(ctx context.Context, owner string) error {
	base := filepath.Join(s.state, ownerDir(owner))
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove leftovers of %s: %w", owner, err)
	}
	var errs []error
	for _, e := range entries {
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		dir := filepath.Join(base, e.Name())
		if pid, ok := leftoverProxy(dir); ok {
			s.log.Info("killing leftover proxy", "owner", owner, "pid", pid, "dir", dir)
			if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill leftover proxy %d: %w", pid, err))
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove leftover %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// leftoverProxy returns the pid in dir's pid file if that process is still
// a proxy serving in dir, so that a recycled pid is never killed.
func leftoverProxy(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
	return pid, args[0] == proxy.ProgramName && slices.Contains(args, filepath.Join(dir, "proxy.sock"))
}

// ownerDir turns an owner name into one safe path element.
func ownerDir(owner string) string {
	if owner == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, owner)
}

func newID() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("container id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// dialUnix returns a dial function for the socket at sock.
func dialUnix(sock string) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		return d.DialContext(ctx, "unix", sock)
	}
}
