package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/gusthub/gust/internal/backoff"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/invoker/proxyclient"
)

// Container is a running container made by Sandbox.Create. It implements
// invoker.Container. Its methods are safe for concurrent use.
type Container struct {
	s       *Sandbox
	id      string
	name    string
	sockDir string // host directory of the proxy socket, or ""

	baseURL   string
	dial      func(ctx context.Context) (net.Conn, error)
	transport *proxyclient.Transport
	client    *http.Client

	logs        chan invoker.LogLine
	gone        chan struct{} // closed by Destroy: stop delivering logs
	streamsDone chan struct{} // closed when the output streams end
	pumpDone    chan struct{} // closed when the log pump has returned
	attach      io.Closer

	mu        sync.Mutex
	destroyed bool
}

var _ invoker.Container = (*Container)(nil)

// logBuffer is how many lines the log channel holds before the container
// blocks on its output.
const logBuffer = 1024

func newContainer(s *Sandbox, id, name, sockDir string) *Container {
	return &Container{
		s:           s,
		id:          id,
		name:        name,
		sockDir:     sockDir,
		logs:        make(chan invoker.LogLine, logBuffer),
		gone:        make(chan struct{}),
		streamsDone: make(chan struct{}),
	}
}

// ID returns the engine's container ID.
func (c *Container) ID() string { return c.id }

// Client returns the keep-alive HTTP client that reaches the action proxy.
func (c *Container) Client() *http.Client { return c.client }

// BaseURL is the URL of the action proxy for Client: "http://proxy" for a
// Unix socket (its host is ignored), "http://127.0.0.1:PORT" for a
// published port.
func (c *Container) BaseURL() string { return c.baseURL }

// Logs delivers the container's output lines, in order within each stream,
// each timestamped on receipt. It is closed when the streams end. Lines not
// yet delivered when Destroy returns are dropped.
func (c *Container) Logs() <-chan invoker.LogLine { return c.logs }

// start attaches to the container's output, starts it and waits until its
// proxy accepts connections.
func (c *Container) start(ctx context.Context) error {
	cli := c.s.cli
	// Attach before start so that no output is lost.
	hj, err := cli.ContainerAttach(ctx, c.id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return fmt.Errorf("attach to container %s: %w", c.id, err)
	}
	c.attach = hj.Conn
	c.pumpDone = make(chan struct{})
	go c.pump(hj.Reader)

	if err := cli.ContainerStart(ctx, c.id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", c.id, err)
	}

	c.dial = func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(c.sockDir, "proxy.sock"))
	}
	if c.sockDir != "" {
		c.baseURL = "http://proxy"
	} else {
		addr, err := c.publishedAddr(ctx)
		if errors.Is(err, errNotRunning) {
			return c.exitedError(ctx)
		}
		if err != nil {
			return err
		}
		c.baseURL = "http://" + addr
		c.dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	c.transport = proxyclient.New(c.dial)
	c.client = &http.Client{Transport: c.transport}
	return c.waitReady(ctx)
}

// errNotRunning says a container exited before its port was looked up.
var errNotRunning = errors.New("container is not running")

// publishedAddr returns the 127.0.0.1 address at which the engine published
// the proxy port; errNotRunning when the container has exited already (its
// port is then unpublished).
func (c *Container) publishedAddr(ctx context.Context) (string, error) {
	info, err := c.s.cli.ContainerInspect(ctx, c.id)
	if err != nil {
		return "", fmt.Errorf("inspect container %s: %w", c.id, err)
	}
	if info.State != nil && !info.State.Running {
		return "", errNotRunning
	}
	if info.NetworkSettings != nil {
		for _, b := range info.NetworkSettings.Ports[nat.Port(fmt.Sprintf("%d/tcp", ProxyPort))] {
			if b.HostIP == "127.0.0.1" && b.HostPort != "" {
				return net.JoinHostPort(b.HostIP, b.HostPort), nil
			}
		}
	}
	return "", fmt.Errorf("container %s: port %d is not published on 127.0.0.1 (network mode %q)", c.id, ProxyPort, c.s.network)
}

// waitReady polls the proxy with a short backoff until it accepts
// connections, the container exits, or ctx ends.
func (c *Container) waitReady(ctx context.Context) error {
	delay := backoff.Backoff{Min: 2 * time.Millisecond, Max: 25 * time.Millisecond, Factor: 1.5}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for proxy of container %s: %w (last attempt: %v)", c.id, ctx.Err(), lastErr)
		case <-c.streamsDone:
			return c.exitedError(ctx)
		case <-timer.C:
		}
		if lastErr = c.probe(ctx); lastErr == nil {
			return nil
		}
		timer.Reset(delay.Next())
	}
}

// probe checks once whether the proxy accepts connections. Over a Unix
// socket a connection is proof enough. A published port is accepted by the
// engine's port proxy even when nothing listens in the container, so there
// an HTTP exchange must succeed; any status will do.
func (c *Container) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if c.sockDir != "" {
		conn, err := c.dial(ctx)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/", nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.Body.Close()
}

// exitedError describes a container that exited before its proxy listened.
func (c *Container) exitedError(ctx context.Context) error {
	// The log pump closes the channel once it has delivered the last lines.
	var tail []string
	wait := time.NewTimer(200 * time.Millisecond)
	defer wait.Stop()
drain:
	for {
		select {
		case l, ok := <-c.logs:
			if !ok {
				break drain
			}
			tail = append(tail, l.Stream+": "+l.Text)
		case <-wait.C:
			break drain
		}
	}
	if len(tail) > 10 {
		tail = tail[len(tail)-10:]
	}
	state := "unknown state"
	if info, err := c.s.cli.ContainerInspect(ctx, c.id); err == nil && info.State != nil {
		state = fmt.Sprintf("status %s, exit code %d, OOM-killed %t", info.State.Status, info.State.ExitCode, info.State.OOMKilled)
	}
	return fmt.Errorf("container %s exited before its proxy accepted connections (%s); last output: %q", c.id, state, strings.Join(tail, "\n"))
}

// Pause freezes the container's processes.
func (c *Container) Pause(ctx context.Context) error {
	if err := c.s.cli.ContainerPause(ctx, c.id); err != nil {
		return fmt.Errorf("pause container %s: %w", c.id, err)
	}
	return nil
}

// Resume thaws a paused container.
func (c *Container) Resume(ctx context.Context) error {
	if err := c.s.cli.ContainerUnpause(ctx, c.id); err != nil {
		return fmt.Errorf("resume container %s: %w", c.id, err)
	}
	return nil
}

// Destroy force-removes the container and its socket directory, closes its
// connections and waits, bounded by ctx, for its log channel to close. It
// is idempotent; after a failed removal it may be called again.
func (c *Container) Destroy(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil
	}
	err := c.s.cli.ContainerRemove(ctx, c.id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if client.IsErrConnectionFailed(err) {
		// The engine is away: the sandbox removes the container when it
		// is back, and the socket directory with it.
		c.s.addStray(c.id, c.sockDir)
		c.sockDir = ""
	} else if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", c.id, err)
	}
	c.destroyed = true
	close(c.gone)
	if c.attach != nil {
		c.attach.Close()
	}
	if c.transport != nil {
		c.transport.Close()
	}
	removeSocketDir(c.s.log, c.sockDir)
	if c.pumpDone == nil {
		close(c.logs)
		return nil
	}
	select {
	case <-c.pumpDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("container %s removed, but its log stream is still open: %w", c.id, ctx.Err())
	}
}

// OOMKilled reports whether the engine says the container was killed for
// exceeding its memory limit. It is false when the engine cannot tell.
func (c *Container) OOMKilled(ctx context.Context) bool {
	info, err := c.s.cli.ContainerInspect(ctx, c.id)
	if err != nil {
		if !errdefs.IsNotFound(err) && !errors.Is(err, context.Canceled) {
			c.s.log.Warn("inspect container", "container", c.id, "err", err)
		}
		return false
	}
	return info.State != nil && info.State.OOMKilled
}
