package gustcmd

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/internal/backoff"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/rules"
)

// newFeeds opens the feed manager and installs the feed actions of the
// providers built in (feeds.go) in the system namespace. The returned run
// runs the instances this process owns until ctx ends.
func newFeeds(ctx context.Context, js jetstream.JetStream, events feeds.Publisher, store *actions.Store,
	ruleStore *rules.Store, apiHost string, policy *egress.Policy, log *slog.Logger) (*feeds.Manager, func(context.Context) error, error) {
	m, err := feeds.Open(ctx, feeds.Options{
		JetStream: js, Events: events, Triggers: ruleStore, BaseURL: apiHost, Egress: policy,
		Logger: log.With("component", "feeds"),
	})
	if err != nil {
		return nil, nil, err
	}
	if err := feeds.Install(ctx, store, m.Registry(), time.Now()); err != nil {
		return nil, nil, err
	}
	// The built-in actions (builtins.go) go into the feeds' packages.
	if err := invoker.InstallBuiltins(ctx, store, invoker.RegisteredBuiltins(), time.Now()); err != nil {
		return nil, nil, err
	}
	return m, func(ctx context.Context) error {
		// Run fails only when its watch of the instances does (NATS away):
		// say so, and run again, so that feeds do not silently stop.
		b := backoff.Backoff{Min: time.Second, Max: time.Minute}
		for {
			err := m.Run(ctx)
			if ctx.Err() != nil {
				return nil
			}
			pause := b.Next()
			log.Error("feed manager failed; restarting it", "err", err, "retry_in", pause)
			if !backoff.Wait(ctx, pause) {
				return nil
			}
		}
	}, nil
}
