package gustcmd

import (
	"io"
	"regexp"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// placeholder is what a flag's value may be called in --help: pflag takes
// a usage string's first `backticked` text as the name, so a backticked
// command there (`gust device create`) became --mqtt-listen's.
var placeholder = regexp.MustCompile(`^([a-z]+|[A-Z][A-Z_]*(=[A-Z]+)?|KEY VALUE)$`)

// TestFlagPlaceholders checks the value names of every command's flags.
func TestFlagPlaceholders(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if name, _ := pflag.UnquoteUsage(f); name != "" && !placeholder.MatchString(name) {
				t.Errorf("%s --%s: value shown as %q in --help", c.CommandPath(), f.Name, name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}))
}
