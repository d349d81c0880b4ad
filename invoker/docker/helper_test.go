package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/internal/dockertest"
	"github.com/gusthub/gust/invoker"
)

// run identifies this test process, so that its containers and images do
// not collide with another's.
var run = randomID()

// testOwner owns every container the tests create.
var testOwner = "gust-test-" + run

var shared struct {
	mu     sync.Mutex
	dir    string                 // temporary files of the whole run
	bins   map[string]builtBinary // by package
	images []string               // images to remove at the end
}

// owners are the run's container owners, whose containers TestMain
// removes at the end, and before the run would hit its -timeout.
var owners dockertest.Owners

func TestMain(m *testing.M) {
	owners.Add(testOwner)
	owners.Add(otherOwner)
	code := dockertest.Main(m, &owners)
	cleanupRun()
	os.Exit(code)
}

// otherOwner owns the containers of TestRemoveLeftovers that stand for
// another Gust's.
var otherOwner = testOwner + "-other"

// cleanupRun removes what the tests left: the images they built and the
// temporary directory.
func cleanupRun() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		return
	}
	for _, ref := range shared.images {
		if _, err := cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil && !isNotFound(err) {
			fmt.Fprintln(os.Stderr, "remove test image:", err)
		}
	}
}

// requireDocker returns a Sandbox on the local Docker engine, closed when
// tb ends. Without a reachable engine it skips tb, or fails it when
// GUST_REQUIRE_DOCKER=1 (as in CI).
func requireDocker(tb testing.TB, opts Options) *Sandbox {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	var s *Sandbox
	dockertest.Require(tb, func(ctx context.Context) error {
		var err error
		if s, err = New(opts); err != nil {
			return err
		}
		tb.Cleanup(func() { s.Close() })
		return s.Ping(ctx)
	})
	return s
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// tempDir returns the run's temporary directory.
func tempDir(tb testing.TB) string {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir == "" {
		d, err := os.MkdirTemp("", "gust-docker-test-")
		if err != nil {
			tb.Fatal(err)
		}
		shared.dir = d
	}
	return shared.dir
}

// echoBinary compiles testdata/echoproxy once per run into a static binary.
func echoBinary(tb testing.TB) string { return staticBinary(tb, "./testdata/echoproxy") }

// gustBinary compiles the gust command once per run into a static binary.
func gustBinary(tb testing.TB) string { return staticBinary(tb, "github.com/gusthub/gust/cmd/gust") }

// staticBinary compiles the main package pkg once per run, with cgo off.
func staticBinary(tb testing.TB, pkg string) string {
	tb.Helper()
	dir := tempDir(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	b, ok := shared.bins[pkg]
	if !ok {
		b.path = filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", b.path, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
		if shared.bins == nil {
			shared.bins = map[string]builtBinary{}
		}
		shared.bins[pkg] = b
	}
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

type builtBinary struct {
	path string
	err  error // why it could not be built
}

// echoRecipe returns a recipe for an image holding the echoproxy, with
// extra files; the tag is new for each call.
func echoRecipe(tb testing.TB, extra ...runtimes.File) runtimes.Recipe {
	tb.Helper()
	tag := "gust-test/echoproxy:" + run + "-" + randomID()
	shared.mu.Lock()
	shared.images = append(shared.images, tag)
	shared.mu.Unlock()
	return runtimes.Recipe{
		Kind:       "test:1",
		Tag:        tag,
		Files:      append([]runtimes.File{{Path: "/bin/proxy", HostPath: echoBinary(tb), Mode: 0o755}}, extra...),
		Entrypoint: []string{"/bin/proxy"},
		Env:        map[string]string{"GOMAXPROCS": "1", "TEST_QUOTED": `a "b" $c \d`},
	}
}

var echoImage struct {
	once sync.Once
	tag  string
	err  error
}

// testImage returns the run's echoproxy image, building it once.
func testImage(tb testing.TB, s *Sandbox) string {
	tb.Helper()
	echoImage.once.Do(func() {
		r := echoRecipe(tb)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		echoImage.tag, echoImage.err = r.Tag, s.EnsureImage(ctx, r)
	})
	if echoImage.err != nil {
		tb.Fatalf("build test image: %v", echoImage.err)
	}
	return echoImage.tag
}

// testSpec returns a spec for the echoproxy image.
func testSpec(tb testing.TB, s *Sandbox, socket bool) invoker.Spec {
	return invoker.Spec{
		Name:        "gust-test-" + run + "-" + randomID(),
		Owner:       testOwner,
		Kind:        "test:1",
		Image:       testImage(tb, s),
		MemoryMB:    64,
		Env:         map[string]string{"__OW_API_HOST": "http://127.0.0.1:3233"},
		Labels:      map[string]string{"namespace": "guest", "action": "echo"},
		ProxySocket: socket,
	}
}

// create creates a container that is destroyed when tb ends.
func create(tb testing.TB, s *Sandbox, spec invoker.Spec) *Container {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.Create(ctx, spec)
	if err != nil {
		tb.Fatalf("create: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Destroy(context.Background()); err != nil {
			tb.Errorf("destroy: %v", err)
		}
	})
	return c.(*Container)
}

// post sends body to the proxy's path and decodes its JSON answer.
func post(ctx context.Context, c invoker.Container, path string, body any) (map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL()+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, msg)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: decode: %w", path, err)
	}
	return out, nil
}

// runValue sends value to /run.
func runValue(tb testing.TB, c invoker.Container, value map[string]any) map[string]any {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := post(ctx, c, "/run", map[string]any{"value": value})
	if err != nil {
		tb.Fatalf("run: %v", err)
	}
	return out
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func isNotFound(err error) bool {
	return err != nil && errdefs.IsNotFound(err)
}
