package gustcmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker/docker"
)

// apiCallerCode lists the namespace's actions through __OW_API_HOST with
// __OW_API_KEY, as actions that use OpenWhisk's client libraries do.
const apiCallerCode = `async function main() {
  const auth = 'Basic ' + Buffer.from(process.env.__OW_API_KEY).toString('base64');
  const r = await fetch(process.env.__OW_API_HOST + '/api/v1/namespaces/_/actions', { headers: { Authorization: auth } });
  const list = await r.json();
  return { status: r.status, host: process.env.__OW_API_HOST, names: list.map(a => a.name) };
}`

// TestE2EActionCallsAPI: an action in a Docker container reaches Gust's
// API at __OW_API_HOST, with no route from the container to the host: its
// proxy forwards the container's own 127.0.0.1:3233 to the API's Unix
// socket.
func TestE2EActionCallsAPI(t *testing.T) {
	requireEngine(t)
	g := startGust(t, t.TempDir())
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/caller", withAnnotations(nodeAction(apiCallerCode), "provide-api-key", true), nil)
	var res struct {
		Status int
		Host   string
		Names  []string
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/caller?blocking=true&result=true", nil, &res)
	if res.Status != 200 || res.Host != "http://127.0.0.1:3233" || len(res.Names) != 1 || res.Names[0] != "caller" {
		t.Errorf("the action's API call: %+v", res)
	}
}

// TestE2EBlackboxCallsAPI: an action of a blackbox image, whose own
// server answers /init and /run, reaches Gust's API at __OW_API_HOST too:
// serve runs the image's command under its API forwarder.
func TestE2EBlackboxCallsAPI(t *testing.T) {
	requireEngine(t)
	img := blackboxImage(t)
	g := startGust(t, t.TempDir())
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/bb?overwrite=false", map[string]any{"exec": map[string]any{"kind": "blackbox", "image": img}}, nil)
	var res struct {
		FetchStatus int    `json:"fetch_status"`
		FetchBody   string `json:"fetch_body"`
		FetchError  string `json:"fetch_error"`
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/bb?blocking=true&result=true", map[string]any{"fetch": "/api/v1"}, &res)
	if res.FetchStatus != 200 || !strings.Contains(res.FetchBody, `"api_version":"1.0.0"`) {
		t.Errorf("the blackbox action's API call: %+v", res)
	}
}

// blackboxImage builds an image that serves OpenWhisk's /init and /run
// itself (the docker sandbox's test server), removed when t ends.
func blackboxImage(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echoproxy")
	cmd := exec.Command("go", "build", "-o", bin, "../invoker/docker/testdata/echoproxy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the blackbox server: %v\n%s", err, out)
	}
	sb, err := docker.New(docker.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	b := make([]byte, 4)
	rand.Read(b)
	tag := "gust-e2e/blackbox:" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sb.EnsureImage(ctx, runtimes.Recipe{Kind: "blackbox", Tag: tag,
		Files: []runtimes.File{{Path: "/bin/server", HostPath: bin, Mode: 0o755}}, Entrypoint: []string{"/bin/server"}}); err != nil {
		t.Fatalf("build the blackbox image: %v", err)
	}
	t.Cleanup(func() { // after gust stopped and removed its container
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return
		}
		defer cli.Close()
		if _, err := cli.ImageRemove(context.Background(), tag, image.RemoveOptions{Force: true}); err != nil {
			t.Logf("remove %s: %v", tag, err)
		}
	})
	return tag
}
