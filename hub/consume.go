package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Consume is the worker loop of a JetStream consumer: it takes messages
// from it, at most workers at once, and runs work on each in a goroutine of
// its own, with a context that outlives ctx so that work in flight
// finishes. When ctx ends it stops pulling, hands back what was fetched but
// not taken (HandBack), waits for the work in flight and returns nil. When
// the consumer is deleted, or its iterator closes, while ctx lives, nothing
// more will come: it waits for the work in flight and returns that error.
// Other errors of the iterator are logged as what's and the loop goes on.
// work acknowledges its message.
func Consume(ctx context.Context, it jetstream.MessagesContext, workers int, what string, log *slog.Logger,
	work func(ctx context.Context, msg jetstream.Msg)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			it.Drain() // Next then returns what was fetched, then an error
		case <-stopped:
		}
	}()
	slots := make(chan struct{}, workers)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			HandBack(it)
			return nil
		}
		msg, err := it.Next()
		if err != nil {
			<-slots
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrMsgIteratorClosed):
				return fmt.Errorf("consume %s: %w", what, err)
			}
			log.Warn("consumer", "consumer", what, "err", err)
			continue
		}
		if ctx.Err() != nil {
			<-slots
			_ = msg.Nak()
			HandBack(it)
			return nil
		}
		wg.Go(func() {
			defer func() { <-slots }()
			work(context.WithoutCancel(ctx), msg)
		})
	}
}
