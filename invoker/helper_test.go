package invoker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/dockertest"
	"github.com/gusthub/gust/internal/exampletest"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/invoker/docker"
)

// runID names this test process's containers, so that they do not collide
// with another's on a shared engine.
var runID = randomID()

// shared holds what the whole test run makes once.
var shared struct {
	mu  sync.Mutex
	dir string // temporary files of the run
}

// owners are the run's container owners, whose containers TestMain
// removes at the end, and before the run would hit its -timeout.
var owners dockertest.Owners

func TestMain(m *testing.M) {
	code := dockertest.Main(m, &owners)
	cleanupRun()
	os.Exit(code)
}

// cleanupRun removes the run's temporary files.
func cleanupRun() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	exampletest.RemoveBinary()
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// runDir is the run's temporary directory; it is short, because Unix
// socket paths under it must fit in 108 bytes.
func runDir(tb testing.TB) string {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir == "" {
		d, err := os.MkdirTemp("/tmp", "gi")
		if err != nil {
			tb.Fatal(err)
		}
		shared.dir = d
	}
	return shared.dir
}

// proxyBinary is the statically linked gust, built once per run: runtime
// images carry it as their action proxy.
func proxyBinary(tb testing.TB) string { return exampletest.Binary(tb) }

// requireDocker returns a sandbox on the local Docker engine, closed when
// tb ends. Without a reachable engine it skips tb, or fails it when
// GUST_REQUIRE_DOCKER=1 (as in CI).
func requireDocker(tb testing.TB) *docker.Sandbox {
	tb.Helper()
	var sb *docker.Sandbox
	dockertest.Require(tb, func(ctx context.Context) error {
		var err error
		if sb, err = docker.New(docker.Options{SocketDir: filepath.Join(runDir(tb), "s"), Logger: quiet()}); err != nil {
			return err
		}
		tb.Cleanup(func() { sb.Close() })
		return sb.Ping(ctx)
	})
	return sb
}

// stack is Gust's invoker side wired as gust serve wires it: an embedded
// hub, the action and activation stores, the work queue, a Docker sandbox,
// a pool, a running invoker and a dispatcher.
type stack struct {
	hub     *hub.Hub
	store   *actions.Store
	records *actions.ActivationStore
	sb      *docker.Sandbox
	images  invoker.ImageFunc
	owner   string
	pool    *invoker.Pool
	iv      *invoker.Invoker // the running one
	disp    *dispatch.Dispatcher
	remote  bool // the invoker does not hand records to disp directly
	// wrapRecords, when set, wraps the record store the next invoker
	// started gets.
	wrapRecords func(invoker.RecordStore) invoker.RecordStore
	wrap        func(invoker.Sandbox) invoker.Sandbox
	stopRun     func() // stops the invoker, not its pool
}

// stackOptions tune a stack; zero values take the test defaults.
type stackOptions struct {
	pool  invoker.PoolOptions
	owner string // default: a fresh one
	// remote runs the invoker as if in another process than the
	// dispatcher: records reach blocking callers over NATS.
	remote bool
	// sandbox, if set, wraps the Docker sandbox the pool uses.
	sandbox func(invoker.Sandbox) invoker.Sandbox
}

// newStack starts a stack that is torn down, every container removed, when
// tb ends.
func newStack(tb testing.TB, o stackOptions) *stack {
	tb.Helper()
	sb := requireDocker(tb)
	proxy := proxyBinary(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := hub.Start(ctx, hub.Options{DataDir: tb.TempDir(), Logger: quiet()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	store, err := actions.OpenStore(ctx, h.JetStream())
	if err != nil {
		tb.Fatal(err)
	}
	records, err := actions.OpenActivationStore(ctx, h.JetStream(), actions.ActivationRetention{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := hub.OpenInvocations(ctx, h.JetStream()); err != nil {
		tb.Fatal(err)
	}
	s := &stack{hub: h, store: store, records: records, sb: sb, images: sb.RuntimeImages(proxy), owner: o.owner}
	if s.owner == "" {
		s.owner = "gust-t" + runID + randomID()
	}
	owners.Add(s.owner)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := sb.RemoveLeftovers(ctx, s.owner); err != nil {
			tb.Errorf("remove containers: %v", err)
		}
	})
	s.disp = dispatch.New(h, store, records, quiet())
	s.remote = o.remote
	s.wrap = o.sandbox
	s.startInvoker(tb, o.pool)
	tb.Cleanup(s.disp.Close) // before the invoker stops: sequences need it
	return s
}

// startInvoker starts a pool and an invoker on it; they stop, the pool's
// containers destroyed, when tb ends.
func (s *stack) startInvoker(tb testing.TB, po invoker.PoolOptions) {
	tb.Helper()
	po.Owner = s.owner
	po.QueueRuns = os.Getenv("GUST_QUEUE_RUNS") != "false" // as gust serve: on unless turned off
	if po.Logger == nil {
		po.Logger = quiet()
	}
	var sb invoker.Sandbox = s.sb
	if s.wrap != nil {
		sb = s.wrap(sb)
	}
	s.pool = invoker.NewPool(sb, po)
	opts := invoker.Options{APIHost: "http://127.0.0.1:3233", Local: s.disp, Logger: quiet()}
	if s.remote {
		opts.Local = nil
	}
	var records invoker.RecordStore = s.records
	if s.wrapRecords != nil {
		records = s.wrapRecords(records)
	}
	iv := invoker.New(s.hub, s.pool, s.store, records, s.images, opts)
	s.iv = iv
	if !s.remote {
		s.disp.RunLocally(iv) // as gust serve: the API's blocking calls may skip the queue
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- iv.Run(ctx) }()
	var once sync.Once
	s.stopRun = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("invoker: %v", err)
				}
			case <-time.After(time.Minute):
				tb.Errorf("invoker did not stop within a minute")
			}
		})
	}
	pool, stop := s.pool, s.stopRun
	tb.Cleanup(func() {
		stop()
		pool.Close()
	})
}

// stopInvKeepPool stops the invoker as a crash would: its pool's
// containers stay.
func (s *stack) stopInvKeepPool() { s.stopRun() }

// invokerPool is a pool of memMB (0: the default) that never pauses.
func invokerPool(memMB int) invoker.PoolOptions { return invoker.PoolOptions{MemoryMB: memMB} }

type containerSummary = container.Summary

// action describes an action to create.
type action struct {
	ns, name, kind, code string
	binary               bool
	image                string
	limits               func(*actions.Limits)
}

// put creates or updates an action and returns it as stored.
func (s *stack) put(tb testing.TB, a action) *actions.Action {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if a.ns == "" {
		a.ns = "guest"
	}
	if a.kind == "" {
		a.kind = runtimes.NodeJS20
	}
	act := &actions.Action{
		Namespace: a.ns, Name: a.name, Version: actions.InitialVersion,
		Exec:    actions.Exec{Kind: a.kind, Code: a.code, Binary: a.binary, Image: a.image},
		Limits:  actions.DefaultLimits(),
		Updated: time.Now().UnixMilli(),
	}
	if a.limits != nil {
		a.limits(&act.Limits)
	}
	n := act.FullName()
	var rev uint64
	if old, r, err := s.store.GetAction(ctx, n, false); err == nil {
		act.Version, rev = actions.BumpVersion(old.Version), r
	} else if !errors.Is(err, hub.ErrNotFound) {
		tb.Fatalf("get action %s: %v", n, err)
	}
	if _, err := s.store.PutAction(ctx, act, rev); err != nil {
		tb.Fatalf("put action %s: %v", n, err)
	}
	act.Exec.Code = ""
	return act
}

// invoke runs the action ns/name for namespace invoking with params through
// the dispatcher and waits up to a minute for its record.
func (s *stack) invoke(tb testing.TB, invoking string, a *actions.Action, params string) *actions.Activation {
	tb.Helper()
	rec, err := s.activate(invoking, a, params, time.Minute)
	if err != nil {
		tb.Fatalf("invoke %s: %v", a.Name, err)
	}
	if rec == nil {
		tb.Fatalf("invoke %s: no record within a minute", a.Name)
	}
	return rec
}

func (s *stack) activate(invoking string, a *actions.Action, params string, wait time.Duration) (*actions.Activation, error) {
	if invoking == "" {
		invoking = a.FullName().Namespace
	}
	inv := &actions.Invocation{
		ActivationID: actions.NewActivationID(), Namespace: invoking, Subject: invoking,
		Action: *a, Submitted: time.Now().UnixMilli(),
	}
	if params != "" {
		inv.Payload = []byte(params)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait+5*time.Second)
	defer cancel()
	return s.disp.Activate(ctx, inv, wait)
}

// containers lists the engine's containers of the stack's owner.
func (s *stack) containers(tb testing.TB) []containerSummary {
	tb.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		tb.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := cli.ContainerList(ctx, container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelOwner+"="+s.owner)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return list
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
