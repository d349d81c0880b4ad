package restapi

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/internal/exampletest"
	"github.com/gusthub/gust/internal/upstreamtest"
)

// TestREADME runs the README's commands (its sh blocks; the bash block that
// starts the servers is the test's own: a fresh `gust serve` with the
// process sandbox and a pouchdb-server) and compares what they print with
// the README's output.
func TestREADME(t *testing.T) {
	g := exampletest.ServeNode(t)
	pouch := upstreamtest.PouchDB(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		script.WriteString(m[1])
	}
	want := regexp.MustCompile("(?s)```text\n(.*?)```").FindStringSubmatch(string(readme))
	if want == nil {
		t.Fatal("the README has no output block")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "sh", "-c", script.String())
	sh.Env = append(g.ShellEnv(), "COUCH="+pouch.URL)
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands: %v\n%s", err, out)
	}
	if string(out) != want[1] {
		t.Errorf("the README's commands printed:\n%s\nthe README says:\n%s", out, want[1])
	}
	if routes := g.Run(t, "api", "list"); strings.Count(routes, "/bookstore/books") != 5 {
		t.Errorf("gust api list:\n%s", routes)
	}
}
