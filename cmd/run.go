package gustcmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gusthub/gust/actions/proxy"
)

// version is set at build time with -ldflags "-X github.com/gusthub/gust/cmd.version=...".
var version = "dev"

// env is what commands get from the process: its environment and streams.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// run executes the gust command line args (args[0] is the program name).
// Tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args[1:])
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "gust",
		Short:         "Gust: an OpenWhisk-compatible serverless event hub in one binary",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(e), &cobra.Command{
		Use: "version", Short: "Print gust's version, as --version does", Args: cobra.NoArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintf(c.OutOrStdout(), "%s version %s\n", root.Name(), root.Version)
		},
	})
	for _, add := range cliCommands {
		root.AddCommand(add(e))
	}
	return root
}

// cliCommands are the client commands, registered by the files that define
// them.
var cliCommands []func(*env) *cobra.Command

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
	// quiet: the command's output said it already, main prints no error
	// line.
	quiet bool
}

// quietly marks err (an *exitError) as said already.
func quietly(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		ee.quiet = true
	}
	return err
}

// quiet reports whether main should print no error line for err.
func quiet(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.quiet
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var pe *proxy.ExitError // a blackbox container's command, run by the proxy
	if errors.As(err, &pe) {
		return pe.Code
	}
	return 1
}
