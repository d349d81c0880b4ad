package docker

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/gusthub/gust/internal/dockertest"
	"github.com/gusthub/gust/invoker"
)

// transports are the two ways to reach a proxy.
var transports = []struct {
	name   string
	socket bool
}{
	{"socket", true},
	{"port", false},
}

func TestCreateRunDestroy(t *testing.T) {
	s := requireDocker(t, Options{SocketDir: tempDir(t) + "/sock"})
	for _, tt := range transports {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := create(t, s, testSpec(t, s, tt.socket))
			if tt.socket && c.BaseURL() != "http://proxy" {
				t.Errorf("BaseURL = %q, want http://proxy", c.BaseURL())
			}
			if !tt.socket && !strings.HasPrefix(c.BaseURL(), "http://127.0.0.1:") {
				t.Errorf("BaseURL = %q, want http://127.0.0.1:PORT", c.BaseURL())
			}
			if _, err := post(ctx, c, "/init", map[string]any{"value": map[string]any{"code": "x"}}); err != nil {
				t.Fatal(err)
			}
			out := runValue(t, c, map[string]any{"hello": "world", "env": []string{"__OW_API_HOST", SocketEnv, "TEST_QUOTED"}})
			if out["hello"] != "world" {
				t.Errorf("run echoed %v", out)
			}
			env, _ := out["env"].(map[string]any)
			wantSock := ""
			if tt.socket {
				wantSock = SocketPath
			}
			want := map[string]any{"__OW_API_HOST": "http://127.0.0.1:3233", SocketEnv: wantSock, "TEST_QUOTED": `a "b" $c \d`}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("env %s = %q, want %q", k, env[k], v)
				}
			}

			info, err := s.cli.ContainerInspect(ctx, c.ID())
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]string{LabelOwner: testOwner, LabelKind: "test:1", LabelNamespace: "guest", LabelAction: "echo"} {
				if got := info.Config.Labels[k]; got != v {
					t.Errorf("label %s = %q, want %q", k, got, v)
				}
			}

			if err := c.Destroy(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Destroy(ctx); err != nil {
				t.Errorf("second Destroy: %v", err)
			}
			if _, err := s.cli.ContainerInspect(ctx, c.ID()); !isNotFound(err) {
				t.Errorf("container still there after Destroy: %v", err)
			}
			if c.sockDir != "" {
				if _, err := os.Stat(c.sockDir); !os.IsNotExist(err) {
					t.Errorf("socket directory still there: %v", err)
				}
			}
			if _, ok := <-c.Logs(); ok {
				for range c.Logs() {
				}
			}
		})
	}
}

func TestHardening(t *testing.T) {
	s := requireDocker(t, Options{})
	for _, tt := range transports {
		t.Run(tt.name, func(t *testing.T) {
			c := create(t, s, testSpec(t, s, tt.socket))
			out := runValue(t, c, map[string]any{"probe": true})
			if tt.socket {
				// Gust's runtime images: nobody, read-only root, writable /tmp.
				if out["uid"] != 65534.0 || out["gid"] != 65534.0 {
					t.Errorf("runs as %v:%v, want 65534:65534", out["uid"], out["gid"])
				}
				if out["root_writable"] != false || out["tmp_writable"] != true {
					t.Errorf("root writable %v, /tmp writable %v; want false, true", out["root_writable"], out["tmp_writable"])
				}
			}
			info, err := s.cli.ContainerInspect(context.Background(), c.ID())
			if err != nil {
				t.Fatal(err)
			}
			hc := info.HostConfig
			if hc.Memory != 64<<20 || hc.MemorySwap != hc.Memory {
				t.Errorf("memory %d, memory+swap %d; want both %d", hc.Memory, hc.MemorySwap, 64<<20)
			}
			if hc.CPUShares != 32 || hc.NanoCPUs != 0 {
				t.Errorf("CPU shares %d, quota %d nano-CPUs; want 32 (1024 × 64 MB / 2048 MB) and none", hc.CPUShares, hc.NanoCPUs)
			}
			if hc.PidsLimit == nil || *hc.PidsLimit != 1024 {
				t.Errorf("pids limit %v, want 1024", hc.PidsLimit)
			}
			if len(hc.Ulimits) != 1 || hc.Ulimits[0].Name != "nofile" || hc.Ulimits[0].Soft != 1024 || hc.Ulimits[0].Hard != 1024 {
				t.Errorf("ulimits %v, want nofile 1024:1024", hc.Ulimits)
			}
			if !slices.Equal(hc.CapDrop, []string{"ALL"}) {
				t.Errorf("cap drop %v, want ALL", hc.CapDrop)
			}
			if !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
				t.Errorf("security options %v lack no-new-privileges", hc.SecurityOpt)
			}
			if hc.ReadonlyRootfs != tt.socket {
				t.Errorf("read-only root %v, want %v", hc.ReadonlyRootfs, tt.socket)
			}
			for _, bs := range hc.PortBindings {
				for _, b := range bs {
					if b.HostIP != "127.0.0.1" {
						t.Errorf("port published on %q, want 127.0.0.1 only", b.HostIP)
					}
				}
			}
		})
	}
}

func TestCPUQuota(t *testing.T) {
	s := requireDocker(t, Options{UserMemoryMB: 1024, UserCPUs: 2})
	for _, tt := range transports {
		t.Run(tt.name, func(t *testing.T) {
			c := create(t, s, testSpec(t, s, tt.socket))
			info, err := s.cli.ContainerInspect(context.Background(), c.ID())
			if err != nil {
				t.Fatal(err)
			}
			// 64 MB of 1024: 1/16 of the shares and of 2 CPUs.
			if hc := info.HostConfig; hc.CPUShares != 64 || hc.NanoCPUs != 130_000_000 {
				t.Errorf("CPU shares %d, quota %d nano-CPUs; want 64 and 130000000 (0.125 CPU rounded to 0.13)", hc.CPUShares, hc.NanoCPUs)
			}
		})
	}
}

func TestCPUShares(t *testing.T) {
	for _, tc := range []struct {
		mem, user int
		want      int64
	}{
		{256, 2048, 128}, {512, 2048, 256}, {2048, 2048, 1024}, {1, 2048, 2}, {128, 1024, 128},
	} {
		if got := CPUShares(tc.mem, tc.user); got != tc.want {
			t.Errorf("CPUShares(%d, %d) = %d, want %d", tc.mem, tc.user, got, tc.want)
		}
	}
	if got := nanoCPUs(1, 2048, 1); got != 10_000_000 {
		t.Errorf("quota of 1 MB of 2048 with 1 CPU = %d nano-CPUs, want the floor of 0.01 CPU", got)
	}
}

func TestLogs(t *testing.T) {
	s := requireDocker(t, Options{})
	for _, tt := range transports {
		t.Run(tt.name, func(t *testing.T) {
			c := create(t, s, testSpec(t, s, tt.socket))
			runValue(t, c, map[string]any{"stdout": []string{"out 1", "out 2", "out 3"}, "stderr": []string{"err 1", "err 2"}})
			got := map[string][]string{}
			ends := 0
			timeout := time.After(10 * time.Second)
			var last time.Time
			for ends < 2 {
				select {
				case l, ok := <-c.Logs():
					if !ok {
						t.Fatalf("logs closed early; got %v", got)
					}
					if l.Time.Before(last) || l.Time.IsZero() {
						t.Errorf("line %q timestamped %v, after %v", l.Text, l.Time, last)
					}
					last = l.Time
					if l.Text == "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX" {
						ends++
						continue
					}
					got[l.Stream] = append(got[l.Stream], l.Text)
				case <-timeout:
					t.Fatalf("no sentinels on both streams; got %v", got)
				}
			}
			want := map[string][]string{
				"stdout": {"echoproxy starting", "out 1", "out 2", "out 3"},
				"stderr": {"echoproxy stderr hello", "err 1", "err 2"},
			}
			for stream, lines := range want {
				if !slices.Equal(got[stream], lines) {
					t.Errorf("%s: got %q, want %q", stream, got[stream], lines)
				}
			}
			if err := c.Destroy(context.Background()); err != nil {
				t.Fatal(err)
			}
			select {
			case _, ok := <-c.Logs():
				if ok {
					t.Error("a line after Destroy")
				}
			case <-time.After(5 * time.Second):
				t.Error("logs not closed after Destroy")
			}
		})
	}
}

func TestPauseResume(t *testing.T) {
	s := requireDocker(t, Options{})
	for _, tt := range transports {
		t.Run(tt.name, func(t *testing.T) {
			c := create(t, s, testSpec(t, s, tt.socket))
			ctx := context.Background()
			runValue(t, c, map[string]any{"n": 1})
			if err := c.Pause(ctx); err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err := post(short, c, "/run", map[string]any{"value": map[string]any{"n": 2}})
			cancel()
			if err == nil {
				t.Error("a paused container answered")
			}
			if err := c.Resume(ctx); err != nil {
				t.Fatal(err)
			}
			if out := runValue(t, c, map[string]any{"n": 3}); out["n"] != 3.0 {
				t.Errorf("after resume: %v", out)
			}
		})
	}
}

func TestOOMKilled(t *testing.T) {
	s := requireDocker(t, Options{})
	spec := testSpec(t, s, true)
	spec.MemoryMB = 16
	c := create(t, s, spec)
	ctx := context.Background()
	if c.OOMKilled(ctx) {
		t.Fatal("OOM-killed before it allocated")
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, err := post(rctx, c, "/run", map[string]any{"value": map[string]any{"alloc_mb": 256}}); err == nil {
		t.Fatalf("allocated past its limit: %v", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !c.OOMKilled(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("OOMKilled is false after the container allocated past its limit")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPidsLimit(t *testing.T) {
	s := requireDocker(t, Options{PidsLimit: 24})
	c := create(t, s, testSpec(t, s, true))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := post(ctx, c, "/run", map[string]any{"value": map[string]any{"spawn": 100}})
	if err != nil {
		// The children's threads count against the limit too: the proxy's
		// own Go runtime may be the one refused a thread, and die of it.
		// That proves the limit as well; any other failure does not.
		if !diedOfThreadLimit(c) {
			t.Fatalf("run: %v, and the proxy's output does not show the pids limit", err)
		}
		return
	}
	if n, _ := out["spawned"].(float64); n >= 100 || out["spawn_error"] == "" {
		t.Errorf("spawned %v processes under a pids limit of 24 (error %q)", out["spawned"], out["spawn_error"])
	}
}

// diedOfThreadLimit reports whether the container's output says its process
// could not create a thread or process (EAGAIN under a pids limit).
func diedOfThreadLimit(c *Container) bool {
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-c.Logs():
			if !ok {
				return false
			}
			if strings.Contains(l.Text, "failed to create new OS thread") || strings.Contains(l.Text, "resource temporarily unavailable") {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

func TestCreateFailsWhenContainerExits(t *testing.T) {
	s := requireDocker(t, Options{})
	spec := testSpec(t, s, false)
	// The proxy cannot listen there and exits.
	spec.Env[SocketEnv] = "/nonexistent/proxy.sock"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.Create(ctx, spec)
	if err == nil {
		c.Destroy(ctx)
		t.Fatal("Create succeeded for a container that exits")
	}
	if !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "listen") {
		t.Errorf("error does not say the container exited and why: %v", err)
	}
	list, err := s.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", spec.Name))})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("failed container %s was not removed", spec.Name)
	}
}

func TestRemoveLeftovers(t *testing.T) {
	s := requireDocker(t, Options{})
	ctx := context.Background()
	other := otherOwner
	spec := testSpec(t, s, true)
	spec.Owner = other
	gone := create(t, s, spec)
	kept := create(t, s, testSpec(t, s, false))
	if err := s.RemoveLeftovers(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cli.ContainerInspect(ctx, gone.ID()); !isNotFound(err) {
		t.Errorf("leftover container not removed: %v", err)
	}
	if _, err := os.Stat(gone.sockDir); !os.IsNotExist(err) {
		t.Errorf("leftover socket directory not removed: %v", err)
	}
	if _, err := s.cli.ContainerInspect(ctx, kept.ID()); err != nil {
		t.Errorf("another owner's container: %v", err)
	}
}

func TestMissingImage(t *testing.T) {
	s := requireDocker(t, Options{})
	ctx := context.Background()
	const ref = "gust-test/no-such-image:missing"
	ok, err := s.ImageExists(ctx, ref)
	if err != nil || ok {
		t.Fatalf("ImageExists = %v, %v; want false, nil", ok, err)
	}
	spec := invoker.Spec{Name: "gust-test-" + run + "-missing", Owner: testOwner, Kind: "blackbox", Image: ref, MemoryMB: 64}
	_, cerr := s.Create(ctx, spec)
	for name, err := range map[string]error{"CheckImage": s.CheckImage(ctx, ref), "Create": cerr} {
		if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "does not pull") {
			t.Errorf("%s: %v; want ErrImageNotFound naming %s and saying Gust does not pull", name, err, ref)
		}
	}
}

func TestCreateBadSpec(t *testing.T) {
	s, err := New(Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, spec := range []invoker.Spec{
		{Name: "no-image", MemoryMB: 64},
		{Name: "tiny", Image: "x", MemoryMB: 2},
	} {
		if _, err := s.Create(context.Background(), spec); err == nil {
			t.Errorf("Create(%+v) succeeded", spec)
		}
	}
}

// TestOwnerLabelOfTheSweep: the tests' sweep (dockertest) finds containers
// by the label Create puts on them.
func TestOwnerLabelOfTheSweep(t *testing.T) {
	if dockertest.OwnerLabel != LabelOwner {
		t.Errorf("dockertest.OwnerLabel = %q, want LabelOwner %q", dockertest.OwnerLabel, LabelOwner)
	}
}
