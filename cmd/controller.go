package gustcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/dispatch"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/internal/telemetry"
	"github.com/gusthub/gust/rules"
	"github.com/gusthub/gust/rules/engine"
)

// listenAPI opens the API's listener (closed by lc should the start fail
// before the API serves it) and bootstraps the keys on its address.
func listenAPI(ctx context.Context, o serveOptions, e *env, ids *api.Identities, lc *lifecycle, log *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	lc.closer("API listener", func() error { _ = ln.Close(); return nil }) // for a start that fails before the API serves it
	if err := bootstrap(ctx, ids, o, e, "http://"+ln.Addr().String(), log); err != nil {
		return nil, err
	}
	return ln, nil
}

// startController starts the controller's parts into lc, after the
// invoker: the rule engine, the feeds, the event retention and the API
// on ln, and closes the dispatcher at shutdown.
func startController(ctx context.Context, o serveOptions, h *hub.Hub, s *stores, dispatcher *dispatch.Dispatcher, tel *telemetryParts,
	apiHost string, ln net.Listener, lc *lifecycle, log *slog.Logger) error {
	js := h.JetStream()
	lc.closer("dispatcher", func() error { dispatcher.Close(); return nil }) // before the invoker stops: sequences need it
	eng := tel.observe(engine.New(js, s.rules, s.actions, dispatcher, s.activations, log.With("component", "rules")).ShareMirrors(s.cache).SkipUnheardOutcomes(h.Heard).SetDedupWindow(o.dedupWindow).SetThrottle(s.throttles))
	lc.run(ctx, "rule engine", eng.Run) // stops before the dispatcher closes: the engine queues through it
	var events telemetry.Publisher = hub.NewPublisher(js)
	if tel.metrics != nil {
		events = tel.metrics.CountEvents(events)
	}
	feedManager, runFeeds, err := newFeeds(ctx, js, events, s.actions, s.rules, publicURL(o, apiHost), o.egress, log)
	if err != nil {
		return err
	}
	if tel.metrics != nil {
		tel.metrics.WatchFeeds(feedManager)
	}
	lc.run(ctx, "feeds", runFeeds)
	// Each namespace's event retention, enforced by purging what is past it.
	retention := hub.NewEventRetention(js, log.With("component", "retention"))
	lc.run(ctx, "event retention", func(ctx context.Context) error { return retention.Run(ctx, retentionInterval) })
	apiServer := api.New(api.Config{
		Actions: s.actions, Invocations: s.cache, Rules: s.rules, Activations: s.activations, Identities: s.ids, Routes: s.routes, Devices: s.devices,
		Activator: dispatcher, Throttle: s.throttles,
		Events:   events,
		Replayer: hub.NewPublisher(js), Params: hub.NewRerunParams(js, 0), Retention: retention,
		Outcomes: rules.NewOutcomes(h.Conn()).FollowCompletions(hub.DoneSubject("")),
		Pool:     dispatch.NewPoolView(h.Conn()),
		Cluster:  h,
		Feeds:    feedManager, Records: s.activations,
		Build: version, Logger: log.With("component", "api"), BodyTimeout: o.bodyTimeout, Space: h,
	})
	srv := &http.Server{
		Handler:           tel.withMetrics(o, apiServer),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	srv.RegisterOnShutdown(apiServer.EndStreams) // else Shutdown waits for event streams until its deadline
	lc.run(ctx, "API server", func(ctx context.Context) error { return serveAPI(ctx, srv, ln, o.dataDir, log) })
	return nil
}

// retentionInterval is how often events past their namespace's retention
// are purged: a namespace keeps its events up to this much longer.
const retentionInterval = 10 * time.Minute

// serveAPI serves the API on ln, and on a Unix socket for actions in
// containers (their proxy forwards it to them, docker.Options.APISocketDir),
// until ctx ends; then it shuts the server down.
func serveAPI(ctx context.Context, srv *http.Server, ln net.Listener, dataDir string, log *slog.Logger) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if uln, err := listenAPISocket(dataDir); err != nil {
		log.Warn("no API socket for actions in containers", "err", err)
	} else {
		go func() {
			if err := srv.Serve(uln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("API socket", "err", err)
			}
		}()
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("API shutdown", "err", err)
	}
	return nil
}
