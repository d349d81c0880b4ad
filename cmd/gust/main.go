// Command gust is Gust in one binary: `gust serve` runs the event hub (NATS
// JetStream, API, feeds, rules, invoker) and every other command is the CLI
// that manages it. Run as gust-proxy (argv[0]) it is the action proxy inside
// action containers.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/gusthub/gust/actions/proxy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if filepath.Base(os.Args[0]) == proxy.ProgramName {
		err = proxy.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		if !quiet(err) {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		os.Exit(exitCode(err))
	}
}
