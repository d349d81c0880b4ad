package proxytest

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gusthub/gust/actions/proxy"
)

// Main is the TestMain of packages whose tests start the action proxy as a
// child process from their own test binary (os.Executable()) with argv[0]
// "gust-proxy", as the gust binary does: started so, the binary runs
// proxy.Main until SIGTERM or an interrupt; otherwise it runs the tests.
func Main(m *testing.M) {
	if filepath.Base(os.Args[0]) != proxy.ProgramName {
		os.Exit(m.Run())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := proxy.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
