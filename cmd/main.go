package gustcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/gusthub/gust/actions/proxy"
)

// Main runs the gust command line of this process (os.Args) until it is
// done or interrupted (SIGINT, SIGTERM), then exits with its status. Run
// as gust-proxy (argv[0]) it is the action proxy inside action containers.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if filepath.Base(os.Args[0]) == proxy.ProgramName {
		err = proxy.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	} else {
		err = Run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
}

// Run executes the gust command line args (args[0] is the program name)
// with the environment getenv and the streams stdout and stderr.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return run(ctx, args, getenv, stdout, stderr)
}
