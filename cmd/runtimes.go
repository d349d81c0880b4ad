package gustcmd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker/docker"
)

func init() { cliCommands = append(cliCommands, newRuntimesCmd) }

// newRuntimesCmd is `gust runtimes`: Gust's own runtime images, which
// `gust serve` otherwise builds on first need.
func newRuntimesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "runtimes", Short: "Gust's runtime images"}
	var proxyBin string
	build := &cobra.Command{
		Use:   "build [KIND...]",
		Short: "Build the runtime images (all kinds by default) on the local Docker engine from this machine's toolchain",
		RunE: func(cmd *cobra.Command, kinds []string) error {
			return buildRuntimes(cmd.Context(), e, kinds, proxyBin)
		},
	}
	build.Flags().StringVar(&proxyBin, "proxy-binary", "", "gust executable to use as the action proxy (default: this one)")
	_ = build.Flags().MarkHidden("proxy-binary")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the runtime kinds this machine can build images for",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, k := range runtimes.Kinds() {
				fmt.Fprintln(e.stdout, k)
			}
			return nil
		},
	}
	cmd.AddCommand(build, list)
	return cmd
}

func buildRuntimes(ctx context.Context, e *env, kinds []string, proxyBin string) error {
	if len(kinds) == 0 {
		kinds = runtimes.Kinds()
	}
	proxyBin, err := proxyBinary(proxyBin)
	if err != nil {
		return err
	}
	sb, err := docker.New(docker.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer sb.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = sb.Ping(pctx)
	cancel()
	if err != nil {
		return fmt.Errorf("no Docker engine reachable: %w", err)
	}
	failed := 0
	for _, kind := range kinds {
		start := time.Now()
		recipe, err := runtimes.RecipeFor(kind, proxyBin)
		have := false
		if err == nil {
			have, err = sb.ImageExists(ctx, recipe.Tag)
		}
		if err == nil && !have {
			fmt.Fprintf(e.stderr, "building runtime image %s (%s, %s) ...\n", kind, quantity(len(recipe.Files), "file"), recipeSize(recipe))
			err = sb.EnsureImage(ctx, recipe)
		}
		if err != nil {
			failed++
			fmt.Fprintf(e.stderr, "error: %s: %v\n", kind, err)
			continue
		}
		if have {
			fmt.Fprintf(e.stdout, "ok: %s is %s (already built)\n", kind, recipe.Tag)
			continue
		}
		fmt.Fprintf(e.stdout, "ok: %s is %s (built in %s)\n", kind, recipe.Tag, time.Since(start).Round(time.Millisecond))
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %s failed", failed, quantity(len(kinds), "runtime image"))}
	}
	return nil
}

// recipeSize is the size of recipe's files for a person ("96 MB"); files
// it cannot stat count as empty.
func recipeSize(recipe runtimes.Recipe) string {
	var n int64
	for _, f := range recipe.Files {
		n += int64(len(f.Data))
		if f.HostPath != "" {
			if fi, err := os.Stat(f.HostPath); err == nil {
				n += fi.Size()
			}
		}
	}
	return fmt.Sprintf("%d MB", (n+1<<19)>>20)
}
