package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/rules"
)

// startFeeds opens the feed manager, installs the feed actions of the
// providers built in (feeds.go) in the system namespace, and runs the
// instances this process owns until the returned stop is called.
func startFeeds(ctx context.Context, js jetstream.JetStream, events feeds.Publisher, store *actions.Store,
	ruleStore *rules.Store, apiHost string, log *slog.Logger) (*feeds.Manager, func(), error) {
	m, err := feeds.Open(ctx, feeds.Options{
		JetStream: js, Events: events, Triggers: ruleStore, BaseURL: apiHost,
		Logger: log.With("component", "feeds"),
	})
	if err != nil {
		return nil, nil, err
	}
	if err := feeds.Install(ctx, store, m.Registry(), time.Now()); err != nil {
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Run fails only when its watch of the instances does (NATS away):
		// say so, and run again, so that feeds do not silently stop.
		for backoff := time.Second; ; backoff = min(2*backoff, time.Minute) {
			err := m.Run(runCtx)
			if runCtx.Err() != nil {
				return
			}
			log.Error("feed manager failed; restarting it", "err", err, "retry_in", backoff)
			select {
			case <-runCtx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}()
	return m, func() {
		cancel()
		<-done
	}, nil
}
