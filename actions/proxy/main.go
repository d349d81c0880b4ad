package proxy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/gusthub/gust/actions/runtimes/native"
)

// ProgramName is the argv[0] under which the gust binary acts as the action
// proxy: a runtime image holds it as /gust-proxy, and the local-process
// sandbox starts it with this argv[0].
const ProgramName = "gust-proxy"

// SocketEnv names the environment variable with the path of a Unix socket
// the proxy serves on besides its TCP address.
const SocketEnv = "GUST_PROXY_SOCKET"

// APISocketEnv names the environment variable with the path of a Unix
// socket where Gust serves its API. When set, the proxy forwards
// APIAddr on the container's own loopback to it and gives actions
// __OW_API_HOST=http://APIAddr, so that actions in a container reach the
// API with no network route to the host.
const APISocketEnv = "GUST_API_SOCKET"

// APIAddr is where the proxy forwards the API inside a container.
const APIAddr = "127.0.0.1:3233"

// shutdownGrace bounds how long Main waits for requests in flight.
const shutdownGrace = 5 * time.Second

// prestartWait bounds how long Main waits for a pre-started language
// process before it listens.
const prestartWait = 10 * time.Second

// Main runs the action proxy until ctx is done, then returns nil. args are
// the command-line arguments after the program name:
//
//	gust-proxy [-addr :8080] [-socket PATH] [-dir /action] [-source NAME] [-prestart] [LAUNCHER ARG...]
//	gust-proxy -supervise COMMAND [ARG...]
//
// It serves on the TCP address -addr (empty: none) and, when -socket or
// else $GUST_PROXY_SOCKET names a path, on a Unix socket there, created with
// mode 0666. LAUNCHER is the language process's command, e.g.
// `/usr/bin/node /gust/launcher.js`; it gets the proxy's environment. With
// -prestart the proxy starts it at once, before /init, and hands it the code
// at /init on stdin (Config.Prestart); the launcher must support that. Without
// one the proxy serves native actions: it runs a copy of its own executable
// with -exec-loop, which runs the action's executable per activation
// (package native). Setting $GUST_PROXY_DEBUG sends the proxy's own logs to
// stderr, mixed with the action's.
//
// With -supervise it serves nothing itself: it is the first process of a
// blackbox container, whose image serves /init and /run, and runs the
// image's command with the API forwarded (see supervise).
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(ProgramName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "TCP `address` to serve on; empty for none")
	socket := fs.String("socket", getenv(SocketEnv), "Unix socket `path` to serve on too")
	dir := fs.String("dir", "/action", "action `directory`")
	source := fs.String("source", native.SourceName, "file `name` for code that is not a zip")
	prestart := fs.Bool("prestart", false, "start LAUNCHER before /init, which hands it the code on stdin")
	execLoop := fs.Bool("exec-loop", false, "be the language process of a native action")
	supervised := fs.Bool("supervise", false, "run the command given as arguments as a blackbox container's main process, with the API forwarded")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *execLoop {
		return runExecLoop(ctx, getenv, stdout, stderr)
	}

	logger := slog.New(slog.DiscardHandler)
	if getenv("GUST_PROXY_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if *supervised {
		return supervise(ctx, fs.Args(), APIAddr, getenv, logger)
	}
	makeSpareThreads(spareThreads)
	cfg := Config{
		Launcher: fs.Args(),
		Dir:      *dir,
		Source:   *source,
		Env:      os.Environ(),
		Stdout:   stdout,
		Stderr:   stderr,
		Logger:   logger,
		Prestart: *prestart,
	}
	if len(cfg.Launcher) == 0 {
		// The native loop takes its code at start.
		cfg.Prestart = false
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("proxy: find own executable for native actions: %w", err)
		}
		cfg.LauncherPath, cfg.Launcher = self, []string{ProgramName, "-exec-loop"}
	}
	cfg.APIHost = startAPIForward(ctx, APIAddr, getenv, logger)
	srv, err := New(cfg)
	if err != nil {
		return err
	}
	if cfg.Prestart {
		// Listen once the language process is up, so that a container
		// counts as started when its /init need not wait for it. One
		// that is slow or broken is the /init's to report.
		wctx, cancel := context.WithTimeout(ctx, prestartWait)
		if err := srv.WaitReady(wctx); err != nil {
			logger.Warn("the language process is not ready; listening anyway", "err", err)
		}
		cancel()
	}
	lns, err := listen(*addr, *socket)
	if err == nil && len(lns) == 0 {
		err = errors.New("proxy: neither a TCP address nor a Unix socket to serve on")
	}
	if err != nil {
		return errors.Join(err, closeAll(lns), srv.Close())
	}

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- hs.Serve(ln) }()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		serveErr = fmt.Errorf("proxy: serve: %w", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	shutErr := hs.Shutdown(sctx)
	for range len(lns) - btoi(serveErr != nil) {
		<-errc
	}
	if *socket != "" {
		// The socket file goes with the listener; a leftover is harmless.
		_ = os.Remove(*socket)
	}
	return errors.Join(serveErr, shutErr, srv.Close())
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func listen(addr, socket string) ([]net.Listener, error) {
	var lns []net.Listener
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		lns = append(lns, ln)
	}
	if socket != "" {
		// A socket file left by an earlier proxy would make Listen fail.
		if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
			return lns, fmt.Errorf("proxy: remove stale socket: %w", err)
		}
		ln, err := net.Listen("unix", socket)
		if err != nil {
			return lns, fmt.Errorf("proxy: %w", err)
		}
		lns = append(lns, ln)
		if err := os.Chmod(socket, 0o666); err != nil {
			return lns, fmt.Errorf("proxy: chmod socket: %w", err)
		}
	}
	return lns, nil
}

func closeAll(lns []net.Listener) error {
	var errs []error
	for _, ln := range lns {
		errs = append(errs, ln.Close())
	}
	return errors.Join(errs...)
}

// runExecLoop is the language process of a native action: stdin and file
// descriptor 3 are the proxy's pipes.
func runExecLoop(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	// The action's executable must not inherit the result pipe.
	syscall.CloseOnExec(3)
	results := os.NewFile(3, "results")
	if results == nil {
		return errors.New("proxy: -exec-loop needs the result pipe on file descriptor 3")
	}
	defer results.Close()
	exe := getenv("GUST_ACTION_PATH")
	if fi, err := os.Stat(exe); err == nil && fi.IsDir() {
		exe += "/" + native.SourceName
	}
	return native.Loop(ctx, exe, os.Stdin, results, stdout, stderr, os.Environ())
}

// startAPIForward forwards addr to Gust's API until ctx ends, when
// APISocketEnv names the API's socket, and returns the address as
// __OW_API_HOST; "" when it does not forward (a failure is logged).
func startAPIForward(ctx context.Context, addr string, getenv func(string) string, logger *slog.Logger) (apiHost string) {
	sock := getenv(APISocketEnv)
	if sock == "" {
		return ""
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Warn("cannot forward the API to actions", "err", err)
		return ""
	}
	go forwardAPI(ctx, ln, sock, logger)
	return "http://" + ln.Addr().String()
}

// forwardAPI accepts connections on ln until ctx ends and joins each to
// Gust's API on the Unix socket sock.
func forwardAPI(ctx context.Context, ln net.Listener, sock string, logger *slog.Logger) {
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var d net.Dialer
			up, err := d.DialContext(ctx, "unix", sock)
			if err != nil {
				logger.Warn("the API's socket does not answer", "err", err)
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(up, c)
				if uc, ok := up.(*net.UnixConn); ok {
					_ = uc.CloseWrite()
				}
				close(done)
			}()
			_, _ = io.Copy(c, up)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			<-done
		}()
	}
}
