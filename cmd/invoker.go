package gustcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/invoker/docker"
	"github.com/gusthub/gust/invoker/process"
)

// invokerOptions are the invoker's flags of `gust serve`.
type invokerOptions struct {
	sandbox     string // auto, docker or process
	memoryMB    int
	cpus        float64 // --invoker-cpus; 0: no quota
	pauseGrace  time.Duration
	queueRuns   bool
	idleTTL     time.Duration
	stemCells   int
	buildImages bool // build the runtime images at start
	proxyBinary string
	maxInFlight int
	egress      *egress.Policy // for built-in actions
}

// check refuses invoker flags that would otherwise be taken silently: the
// pool and the Docker sandbox read a memory of 0 or less as the default
// 2048 MB, and a negative stem cell count, pause grace or idle TTL as 0.
func (o invokerOptions) check() error {
	switch {
	case o.sandbox != "auto" && o.sandbox != "docker" && o.sandbox != "process":
		return fmt.Errorf("--sandbox %q: use auto, docker or process", o.sandbox)
	case o.memoryMB <= 0:
		return fmt.Errorf("--invoker-memory %d: use a positive number of MB (default 2048)", o.memoryMB)
	case o.cpus < 0:
		return fmt.Errorf("--invoker-cpus %g: use a positive number of CPUs, or 0 for no quota", o.cpus)
	case o.stemCells < 0:
		return fmt.Errorf("--stem-cells %d: use a number of containers, or 0 for none", o.stemCells)
	case o.pauseGrace < 0:
		return fmt.Errorf("--pause-grace %v: use a positive duration such as 10s, or 0 never to pause", o.pauseGrace)
	case o.idleTTL < 0:
		return fmt.Errorf("--idle-ttl %v: use a positive duration such as 10m", o.idleTTL)
	}
	return nil
}

// sandboxes is the invoker's sandbox and what resolves images for it.
type sandboxes struct {
	invoker.Sandbox
	images invoker.ImageFunc
	// building returns the kinds whose images are being built; nil when
	// the sandbox builds none.
	building func() []string
	close    func() error
}

// openSandbox picks the Docker engine when one answers, else local
// processes, and says so loudly.
func openSandbox(ctx context.Context, o invokerOptions, dataDir string, log *slog.Logger) (*sandboxes, error) {
	proxyBin, err := proxyBinary(o.proxyBinary)
	if err != nil {
		return nil, err
	}
	if o.sandbox == "auto" || o.sandbox == "docker" {
		sb, err := docker.New(docker.Options{SocketDir: filepath.Join(dataDir, "sockets"), APISocketDir: apiSocketDir(dataDir), APIForwarder: proxyBin,
			UserMemoryMB: o.memoryMB, UserCPUs: o.cpus, Logger: log.With("component", "docker")})
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err = sb.Ping(pctx)
			cancel()
			if err == nil {
				return &sandboxes{Sandbox: sb, images: sb.RuntimeImages(proxyBin), building: sb.Building, close: sb.Close}, nil
			}
			_ = sb.Close()
		}
		if o.sandbox == "docker" {
			return nil, fmt.Errorf("no Docker engine reachable: %w", err)
		}
		log.Warn("NO DOCKER ENGINE REACHABLE: actions run as local processes WITHOUT ISOLATION; start a Docker engine for real sandboxes",
			"err", err)
	}
	if o.sandbox != "auto" && o.sandbox != "process" {
		return nil, fmt.Errorf("--sandbox %q: use auto, docker or process", o.sandbox)
	}
	sb, err := process.New(process.Options{ProxyBinary: proxyBin, Logger: log.With("component", "process")})
	if err != nil {
		return nil, err
	}
	return &sandboxes{Sandbox: sb, images: processImages(o.sandbox == "process"), close: func() error { return nil }}, nil
}

// processImages resolves images for the process sandbox: none, as actions
// run on the proxy here, and blackbox images (but the native skeleton's)
// cannot run. Its error says why: chosen is true when --sandbox process
// was, false when no Docker engine was reachable.
func processImages(chosen bool) invoker.ImageFunc {
	return func(_ context.Context, e actions.Exec) (string, bool, error) {
		switch {
		case e.Kind != actions.KindBlackbox || e.Image == docker.NativeSkeleton:
			return "", true, nil
		case chosen:
			return "", false, fmt.Errorf("%w: blackbox image %s needs the Docker sandbox, and this server runs actions as local processes (--sandbox process or GUST_SANDBOX=process): "+
				"restart gust serve with --sandbox docker, or auto (the default: Docker when it answers)", invoker.ErrImage, e.Image)
		}
		return "", false, fmt.Errorf("%w: blackbox image %s needs a Docker engine, and none is reachable", invoker.ErrImage, e.Image)
	}
}

// proxyBinary is the executable that serves as the action proxy: the gust
// binary itself unless told otherwise. Runtime images carry it with the
// libraries it links.
func proxyBinary(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the gust executable: %w", err)
	}
	return exe, nil
}

// startInvoker opens the sandbox and starts the invoker into lc, which
// hands the records of this process's blocking callers to dispatcher (nil
// without a controller); it notes the sandbox and the invoker's load in b.
func startInvoker(ctx context.Context, o serveOptions, h *hub.Hub, s *stores, dispatcher *dispatch.Dispatcher, tel *telemetryParts,
	b *built, lc *lifecycle, log *slog.Logger) error {
	sb, err := openSandbox(ctx, o.invoker, o.dataDir, log)
	if err != nil {
		return err
	}
	runInvoker, load, err := newInvoker(ctx, sb, invokerDeps{hub: h, code: s.actions, records: s.activations, apiHost: b.apiHost,
		owner: containerOwner(o.dataDir), dispatcher: dispatcher, telemetry: tel, slots: s.throttles}, o.invoker, log)
	if err != nil {
		_ = sb.close()
		return err
	}
	b.sandbox = sb.Name()
	lc.run(ctx, "invoker", runInvoker)
	b.load = load
	return nil
}

// newInvoker builds the pool and the invoker and removes containers an
// earlier run left. The returned run keeps stem cells warm and runs the
// invoker until ctx ends, then destroys every container and closes the
// sandbox.
func newInvoker(ctx context.Context, sb *sandboxes, deps invokerDeps, o invokerOptions, log *slog.Logger) (run func(context.Context) error, load func() *hub.Load, err error) {
	owner := deps.owner
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = sb.RemoveLeftovers(cctx, owner)
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("remove leftover containers: %w", err)
	}
	pool := invoker.NewPool(sb, invoker.PoolOptions{
		MemoryMB: o.memoryMB, PauseGrace: o.pauseGrace, IdleTTL: o.idleTTL, Owner: owner, QueueRuns: o.queueRuns,
		Logger: log.With("component", "pool"),
	})
	iv := invoker.New(deps.hub, pool, deps.code, deps.records, sb.images, invoker.Options{
		APIHost: deps.apiHost, MaxInFlight: o.maxInFlight, Local: deps.dispatcher, Logger: log.With("component", "invoker"),
		Observer: deps.telemetry.invokerObserver(), Slots: deps.slots, Building: sb.building, Egress: o.egress,
	})
	if deps.dispatcher != nil {
		deps.dispatcher.RunLocally(iv) // blocking calls to warm containers here skip the queue
	}
	if deps.telemetry != nil && deps.telemetry.metrics != nil {
		deps.telemetry.watchPool(pool)
	}
	return func(ctx context.Context) error {
		var bg sync.WaitGroup
		if o.buildImages && sb.building != nil {
			bg.Go(func() { buildImages(ctx, sb, log) })
		}
		if o.stemCells > 0 {
			bg.Go(func() { // building runtime images may take a while: not on the way to ready
				keepStemCells(ctx, pool, sb, deps.apiHost, o.stemCells, log)
			})
		}
		err := iv.Run(ctx)
		bg.Wait()
		pool.Close()
		// What the pool could not remove (its engine was away when it
		// tried, or the answer to a create was lost) goes now, by label.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if rerr := sb.RemoveLeftovers(rctx, owner); rerr != nil {
			log.Warn("remove containers left at shutdown", "err", rerr)
		}
		cancel()
		if cerr := sb.close(); cerr != nil {
			log.Warn("close sandbox", "err", cerr)
		}
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}, iv.Load, nil
}

// invokerDeps are what the invoker needs from the rest of Gust.
type invokerDeps struct {
	hub     *hub.Hub
	code    invoker.CodeStore
	records invoker.RecordStore
	apiHost string
	// owner names this Gust's containers: unique per data directory, so
	// that two Gusts on one engine leave each other's containers alone.
	owner string
	// dispatcher is this process's, to which the invoker hands the records
	// its blocking callers wait for.
	dispatcher *dispatch.Dispatcher
	// telemetry gets the invoker's metrics and traces.
	telemetry *telemetryParts
	// slots takes back the concurrency slots of completed invocations.
	slots invoker.Releaser
}

// buildImages builds the image of every runtime kind this machine can
// build that the engine lacks, one at a time, so that no first invoke
// waits for one; an invoke that needs one sooner waits for the same build.
// The sandbox logs each build; this logs when all are there.
func buildImages(ctx context.Context, sb *sandboxes, log *slog.Logger) {
	start := time.Now()
	var failed []string
	for _, kind := range runtimes.Kinds() {
		if _, _, err := sb.images(ctx, actions.Exec{Kind: kind}); err != nil {
			if ctx.Err() != nil {
				return
			}
			failed = append(failed, kind)
			log.Warn("runtime image not built; its first invoke tries again", "kind", kind, "err", err)
		}
	}
	log.Info("runtime images ready", "kinds", len(runtimes.Kinds())-len(failed), "failed", failed, "took", time.Since(start).Round(time.Millisecond))
}

// keepStemCells asks the pool for pre-warmed containers of every runtime
// the manifest wants them for, at most perKind each.
func keepStemCells(ctx context.Context, pool *invoker.Pool, sb *sandboxes, apiHost string, perKind int, log *slog.Logger) {
	for _, rt := range actions.DefaultManifest().Runtimes() {
		if rt.StemCells == 0 || ctx.Err() != nil {
			continue
		}
		img, socket, err := sb.images(ctx, actions.Exec{Kind: rt.Kind})
		if err != nil {
			log.Warn("no stem cells", "kind", rt.Kind, "err", err)
			continue
		}
		pool.KeepStemCells(invoker.Spec{
			Kind: rt.Kind, Image: img, ProxySocket: socket, MemoryMB: actions.DefaultMemoryMB,
			Env: map[string]string{"__OW_API_HOST": apiHost},
		}, min(perKind, rt.StemCells))
	}
}
