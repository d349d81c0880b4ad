package gustcmd

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/gusthub/gust/actions/runtimes"
)

// freshProxy is a copy of the gust binary with bytes of its own appended,
// which it runs as before: runtime images built with it as their action
// proxy have tags the engine has not seen, so a test sees them built.
// They are removed when the test ends, after the servers it started.
func freshProxy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(builtGust(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "gust")
	if err := os.WriteFile(p, append(b, []byte(rand.Text())...), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return
		}
		defer cli.Close()
		for _, kind := range runtimes.Kinds() {
			r, err := runtimes.RecipeFor(kind, p)
			if err != nil {
				continue
			}
			if _, err := cli.ImageRemove(context.Background(), r.Tag, image.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
				t.Logf("remove %s: %v", r.Tag, err)
			}
		}
	})
	return p
}

// TestE2EFirstInvokeSaysTheImageBuilds: serve builds the runtime images in
// the background at start and logs it; a blocking invoke of a kind whose
// image is still being built says so on stderr and then answers, and the
// next invoke says nothing.
func TestE2EFirstInvokeSaysTheImageBuilds(t *testing.T) {
	requireEngine(t)
	if !strings.Contains(strings.Join(runtimes.Kinds(), " "), "python:3") {
		t.Skip("no python3 on this machine to build the python:3 image from")
	}
	proxy := freshProxy(t)
	dir := t.TempDir()
	g := startGust(t, dir, "--proxy-binary", proxy, "--build-images=true")
	cli := cliEnv(dir)
	src := filepath.Join(dir, "hello.py")
	if err := os.WriteFile(src, []byte("def main(args):\n    return {'ok': True}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGust(t, cli, "action", "create", "py", src)
	first := gust(t, cli, "action", "invoke", "py", "-r")
	first.check(t, "{\n    \"ok\": true\n}\n", "", 0)
	if first.stderr != "building runtime image python:3 (first use) ...\n" {
		t.Errorf("first invoke's stderr %q, want the building notice", first.stderr)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(g.logs.String(), "runtime images ready") {
		if time.Now().After(deadline) {
			t.Fatalf("no end of the background builds in the log:\n%s", g.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	logs := g.logs.String()
	for _, kind := range runtimes.Kinds() {
		if !regexp.MustCompile(`building runtime image.* kind=` + kind).MatchString(logs) {
			t.Errorf("the log does not say %s's image is being built:\n%s", kind, logs)
		}
	}
	if !regexp.MustCompile(`runtime images ready.* kinds=` + strconv.Itoa(len(runtimes.Kinds())) + ` failed=\[\]`).MatchString(logs) {
		t.Errorf("the log does not say every image is ready:\n%s", logs)
	}
	gust(t, cli, "action", "invoke", "py", "-r").check(t, "{\n    \"ok\": true\n}\n", "", 0)
}

// TestE2ERuntimesBuildShowsProgress: `gust runtimes build` says which
// image it builds before it does, and that an image is already built.
func TestE2ERuntimesBuildShowsProgress(t *testing.T) {
	requireEngine(t)
	proxy := freshProxy(t)
	cli := cliEnv(t.TempDir())
	r := gust(t, cli, "runtimes", "build", "native", "--proxy-binary", proxy)
	if r.err != nil {
		t.Fatalf("runtimes build: %v\n%s", r.err, r.stderr)
	}
	if !regexp.MustCompile(`^building runtime image native \(\d+ files?, \d+ MB\) \.\.\.\n$`).MatchString(r.stderr) ||
		!regexp.MustCompile(`^ok: native is gust/runtime-native:[0-9a-f]+ \(built in [0-9.]+m?s\)\n$`).MatchString(r.stdout) {
		t.Errorf("first build: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	r = gust(t, cli, "runtimes", "build", "native", "--proxy-binary", proxy)
	if r.err != nil || r.stderr != "" || !regexp.MustCompile(`^ok: native is gust/runtime-native:[0-9a-f]+ \(already built\)\n$`).MatchString(r.stdout) {
		t.Errorf("second build: stdout %q, stderr %q, err %v", r.stdout, r.stderr, r.err)
	}
}
