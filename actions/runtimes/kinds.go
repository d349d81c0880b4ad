package runtimes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gusthub/gust/actions/runtimes/native"
	"github.com/gusthub/gust/actions/runtimes/nodejs"
	"github.com/gusthub/gust/actions/runtimes/python"
)

// The runtime kinds this package serves.
const (
	// NodeJS20 runs nodejs actions with the host's node, which must be
	// version 20.
	NodeJS20 = "nodejs:20"
	// Python3 runs python actions with the host's python3.
	Python3 = "python:3"
	// Native runs an executable per activation, as OpenWhisk's docker
	// skeleton does. Its image holds no shell or libraries besides the
	// proxy's, so the executable must be static there.
	Native = "native"
)

// Errors of HostArgs and RecipeFor.
var (
	// ErrUnknownKind says this package does not serve the kind.
	ErrUnknownKind = errors.New("runtimes: unknown kind")
	// ErrUnavailable says the host lacks what the kind needs, such as its
	// interpreter.
	ErrUnavailable = errors.New("runtimes: kind unavailable on this host")
)

// ImageLauncherDir is where an image holds the launcher.
const ImageLauncherDir = "/gust"

// ImageProxyPath is where an image holds the proxy binary.
const ImageProxyPath = "/gust-proxy"

// probeTimeout bounds asking an interpreter about itself.
const probeTimeout = 10 * time.Second

// runtime is one kind: its launcher and what it needs from the host.
type runtime struct {
	kind         string
	source       string // file name of plain-text code
	launcherName string // "" for native: the proxy is its own launcher
	launcher     []byte
	env          map[string]string
	probe        func() (host, error) // memoized
}

// host is what a kind uses from this machine.
type host struct {
	interpreter string   // absolute path, "" for native
	trees       []string // directories copied whole into the image
}

var table = []*runtime{
	{
		kind:         NodeJS20,
		source:       nodejs.SourceName,
		launcherName: nodejs.LauncherName,
		launcher:     nodejs.Launcher,
		probe:        sync.OnceValues(func() (host, error) { return probeNode(20) }),
	},
	{
		kind:         Python3,
		source:       python.SourceName,
		launcherName: python.LauncherName,
		launcher:     python.Launcher,
		env:          map[string]string{"PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"},
		probe:        sync.OnceValues(probePython),
	},
	{
		kind:   Native,
		source: native.SourceName,
		probe:  func() (host, error) { return host{}, nil },
	},
}

// Kinds returns the runtime kinds this package serves, whether or not this
// host has what they need.
func Kinds() []string {
	kinds := make([]string, len(table))
	for i, rt := range table {
		kinds[i] = rt.kind
	}
	return kinds
}

func lookup(kind string) (*runtime, host, error) {
	for _, rt := range table {
		if rt.kind == kind {
			h, err := rt.probe()
			return rt, h, err
		}
	}
	return nil, host{}, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
}

// HostArgs returns the action proxy's arguments (without its program name)
// that run kind's language process with the host's interpreter; a caller
// may put more flags in front. It writes the launcher into dir, which must
// exist.
func HostArgs(kind, dir string) ([]string, error) {
	rt, h, err := lookup(kind)
	if err != nil {
		return nil, err
	}
	launcher := ""
	if rt.launcherName != "" {
		launcher = filepath.Join(dir, rt.launcherName)
		if err := os.WriteFile(launcher, rt.launcher, 0o644); err != nil {
			return nil, fmt.Errorf("runtimes: write launcher: %w", err)
		}
	}
	return rt.proxyArgs(h.interpreter, launcher), nil
}

// HostEnv returns the environment variables kind's language process needs
// besides the proxy's own.
func HostEnv(kind string) (map[string]string, error) {
	rt, _, err := lookup(kind)
	if err != nil {
		return nil, err
	}
	return rt.env, nil
}

func (rt *runtime) proxyArgs(interpreter, launcher string) []string {
	args := []string{"-source", rt.source}
	if launcher != "" {
		// Gust's launchers take their code on stdin at /init, so the
		// interpreter starts with the container, before it.
		args = append(args, "-prestart", "--", interpreter, launcher)
	}
	return args
}

func probeNode(major int) (host, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return host{}, fmt.Errorf("%w: node: %w", ErrUnavailable, err)
	}
	out, err := probe(node, "-p", "process.execPath + '\\n' + process.versions.node")
	if err != nil {
		return host{}, err
	}
	path, version, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(version, fmt.Sprint(major)+".") {
		return host{}, fmt.Errorf("%w: %s is node %s, the kind needs %d", ErrUnavailable, path, version, major)
	}
	return host{interpreter: path}, nil
}

// probePython prefers the distribution's /usr/bin/python3 over one found
// in $PATH (often a pyenv shim, a shell script), and asks it for its real
// executable and its standard library.
func probePython() (host, error) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			return host{}, fmt.Errorf("%w: python3: %w", ErrUnavailable, err)
		}
	}
	out, err := probe(py, "-c", `import sys, sysconfig
print(sys.executable)
print(sysconfig.get_path("stdlib"))
print(sysconfig.get_path("platstdlib"))`)
	if err != nil {
		return host{}, err
	}
	lines := strings.Split(out, "\n")
	if len(lines) != 3 || !filepath.IsAbs(lines[0]) {
		return host{}, fmt.Errorf("%w: %s describes itself as %q", ErrUnavailable, py, out)
	}
	h := host{interpreter: lines[0], trees: []string{lines[1]}}
	if lines[2] != lines[1] {
		h.trees = append(h.trees, lines[2])
	}
	return h, nil
}

func probe(prog string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w: %s", ErrUnavailable, prog, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
