package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/gusthub/gust/internal/backoff"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/invoker/proxyclient"
)

// drainGrace bounds how long Destroy waits for the output pipes to end
// once the process group is dead (a daemonized grandchild may hold them).
const drainGrace = 2 * time.Second

// container is one proxy process and its process group.
type container struct {
	id, dir, sock string
	cmd           *exec.Cmd
	log           *slog.Logger
	transport     *proxyclient.Transport
	client        *http.Client
	logs          chan invoker.LogLine

	pipes   []*os.File    // read ends of stdout and stderr
	exited  chan struct{} // closed once the proxy was reaped
	drained chan struct{} // closed once both streams ended

	destroyOnce sync.Once
	destroyErr  error
}

var _ invoker.Container = (*container)(nil)

// startContainer starts cmd with its output going to Logs.
func startContainer(cmd *exec.Cmd, id, dir, sock string, log *slog.Logger) (*container, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start proxy: %w", err)
	}
	tr := proxyclient.New(dialUnix(sock))
	c := &container{
		id: id, dir: dir, sock: sock, cmd: cmd, log: log,
		transport: tr, client: &http.Client{Transport: tr},
		logs:    make(chan invoker.LogLine, 1024),
		pipes:   []*os.File{outR, errR},
		exited:  make(chan struct{}),
		drained: make(chan struct{}),
	}
	go func() {
		// The exit status is of no use: the invoker sees failures in
		// /init and /run answers.
		_ = cmd.Wait()
		close(c.exited)
	}()
	var readers sync.WaitGroup
	readers.Go(func() { c.read("stdout", outR) })
	readers.Go(func() { c.read("stderr", errR) })
	go func() {
		readers.Wait()
		close(c.logs)
		close(c.drained)
	}()
	return c, nil
}

func (c *container) read(stream string, r *os.File) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		c.logs <- invoker.LogLine{Time: time.Now(), Stream: stream, Text: sc.Text()}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		c.log.Warn("read container output", "stream", stream, "err", err)
	}
}

// waitReady polls the socket until the proxy accepts connections.
func (c *container) waitReady(ctx context.Context) error {
	delay := backoff.Backoff{Min: time.Millisecond, Max: 50 * time.Millisecond}
	for {
		conn, err := net.Dial("unix", c.sock)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-c.exited:
			return fmt.Errorf("proxy exited before accepting connections: %s", c.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("wait for proxy: %w", ctx.Err())
		case <-time.After(delay.Next()):
		}
	}
}

// ID returns the container's id, the name of its directory.
func (c *container) ID() string { return c.id }

// Client returns the HTTP client that reaches the proxy's Unix socket.
func (c *container) Client() *http.Client { return c.client }

// BaseURL returns "http://proxy"; Client ignores the host.
func (c *container) BaseURL() string { return "http://proxy" }

// Logs delivers the proxy's and the action's output lines.
func (c *container) Logs() <-chan invoker.LogLine { return c.logs }

// Pause stops the container's process group.
func (c *container) Pause(ctx context.Context) error {
	return c.signal(syscall.SIGSTOP)
}

// Resume continues the container's process group.
func (c *container) Resume(ctx context.Context) error {
	return c.signal(syscall.SIGCONT)
}

func (c *container) signal(sig syscall.Signal) error {
	select {
	case <-c.exited:
		return fmt.Errorf("container %s: %s: the proxy has exited", c.id, sig)
	default:
	}
	if err := syscall.Kill(-c.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("container %s: %s: %w", c.id, sig, err)
	}
	return nil
}

// Destroy kills the container's process group, waits for it and its
// output, and removes its directory. It is idempotent.
func (c *container) Destroy(ctx context.Context) error {
	c.destroyOnce.Do(func() { c.destroyErr = c.destroy(ctx) })
	return c.destroyErr
}

func (c *container) destroy(ctx context.Context) error {
	var errs []error
	if err := syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("container %s: kill: %w", c.id, err))
	}
	select {
	case <-c.exited:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("container %s: wait for exit: %w", c.id, ctx.Err()))
	}
	select {
	case <-c.drained:
	case <-ctx.Done():
	case <-time.After(drainGrace):
	}
	for _, p := range c.pipes {
		p.Close() // ends the readers if something still holds the pipes
	}
	c.transport.Close()
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("container %s: %w", c.id, err))
	}
	return errors.Join(errs...)
}

// OOMKilled is always false: the sandbox sets no memory limit.
func (c *container) OOMKilled(ctx context.Context) bool { return false }
