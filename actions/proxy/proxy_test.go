package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gusthub/gust/actions/proxy"
	"github.com/gusthub/gust/actions/proxy/proxytest"
	"github.com/gusthub/gust/actions/runtimes"
)

// TestMain lets the test binary act as the proxy when started as
// gust-proxy: the proxy runs a copy of itself as the language process of
// native actions.
func TestMain(m *testing.M) { proxytest.Main(m) }

// TestProtocol runs the conformance suite against Main run in-process,
// serving on a Unix socket, with the host's interpreters, which start with
// the proxy (-prestart, as runtimes.HostArgs asks).
func TestProtocol(t *testing.T) {
	proxytest.Run(t, func(t *testing.T, kind string, env map[string]string) proxytest.Target {
		return startInProcess(t, kind, env, true)
	})
}

// TestProtocolStartAtInit runs the conformance suite with the language
// process started at /init, as ActionLoop launchers need.
func TestProtocolStartAtInit(t *testing.T) {
	proxytest.Run(t, func(t *testing.T, kind string, env map[string]string) proxytest.Target {
		return startInProcess(t, kind, env, false)
	})
}

func startInProcess(t *testing.T, kind string, env map[string]string, prestart bool) proxytest.Target {
	dir := t.TempDir()
	args, err := runtimes.HostArgs(kind, dir)
	if errors.Is(err, runtimes.ErrUnavailable) {
		t.Skipf("kind %s: %v", kind, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !prestart {
		args = slices.DeleteFunc(args, func(a string) bool { return a == "-prestart" })
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	// Unix socket paths are short; test names are not.
	sockDir, err := os.MkdirTemp("", "gp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "proxy.sock")

	logs := make(chan proxytest.Line, 4096)
	stdout, stopOut := lineReader(t, "stdout", logs)
	stderr, stopErr := lineReader(t, "stderr", logs)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args = append([]string{"-addr=", "-socket", sock, "-dir", filepath.Join(dir, "action")}, args...)
	go func() { done <- proxy.Main(ctx, args, os.Getenv, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Main: %v", err)
		}
		stopOut()
		stopErr()
	})

	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	t.Cleanup(client.CloseIdleConnections)
	waitForSocket(t, sock, done)
	return proxytest.Target{Client: client, BaseURL: "http://proxy", Logs: logs}
}

// lineReader returns the write end of a pipe whose lines go to logs, and a
// function that closes it and waits for the last line.
func lineReader(t *testing.T, stream string, logs chan<- proxytest.Line) (*os.File, func()) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			logs <- proxytest.Line{Stream: stream, Text: sc.Text()}
		}
	})
	return w, func() { w.Close(); wg.Wait() }
}

func waitForSocket(t *testing.T, sock string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-done:
			t.Fatalf("Main returned before listening: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("the proxy does not listen on %s", sock)
}
