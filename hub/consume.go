package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/internal/backoff"
	"github.com/gusthub/gust/internal/workers"
)

// How long a pull request of Gust's consumers' message iterators lives
// (jetstream.PullExpiry); PullExpiryFor picks one. A pull that reaches no
// consumer is noticed only when its heartbeats, at half the expiry, fail
// to come twice.
//   - On a cluster (embedded routes or an external cluster) a pull is lost
//     on a consumer just created or moved to another node, whose interest
//     has not crossed the routes yet: with 30 s an invoker's home queue and
//     the rule engine sat idle for 30 s and more after a start or a lost
//     node (TestClusterKillUnderLoad, TestExternalNATSCluster), so pulls
//     there expire after ClusterPullExpiry.
//   - On one node, nats.go's default stays: a pull is lost there only
//     when the embedded JetStream restarts (recoverWrites), and the
//     consumers pull again once two heartbeats are missed, within 30 s.
//     The rule engine that sat idle for good after such a restart
//     (TestDiskRunsOut), first blamed on the quicker pulls of a 5 s
//     expiry, was its only worker waiting for good in Batch.Wait for
//     writes the restart lost, since fixed.
const (
	PullExpiry        = 30 * time.Second
	ClusterPullExpiry = 5 * time.Second
)

// PullExpiryFor is the pull expiry for Gust's consumers on nc:
// ClusterPullExpiry when its server is part of a cluster, else
// PullExpiry.
func PullExpiryFor(nc *nats.Conn) time.Duration {
	if nc != nil && nc.ConnectedClusterName() != "" {
		return ClusterPullExpiry
	}
	return PullExpiry
}

// OpenConsumer creates or updates the durable consumer cfg of st. While
// no JetStream leader answers (Unavailable: a cluster electing leaders
// after a node was lost or restarted) it logs that it waits and tries
// again, until ctx ends, instead of failing: a component that starts then
// would otherwise stop Gust.
func OpenConsumer(ctx context.Context, st jetstream.Stream, cfg jetstream.ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	pause := backoff.Backoff{Min: 250 * time.Millisecond, Max: 5 * time.Second}
	for {
		c, err := st.CreateOrUpdateConsumer(ctx, cfg)
		if err == nil {
			return c, nil
		}
		if !Unavailable(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("open consumer %s: %w", cfg.Durable, err)
		}
		log.Warn("cannot open a consumer yet: no JetStream leader answers; trying again", "consumer", cfg.Durable, "err", err)
		backoff.Wait(ctx, pause.Next()) // an ended ctx ends the loop after the next try
	}
}

// Consume is the worker loop of a JetStream consumer: it takes messages
// from it, at most inFlight at once, and runs work on each on a worker
// goroutine (workers.Group), with a context that outlives ctx so that work
// in flight finishes. A worker that is done waits for the next message
// instead of ending: a new goroutine's stack starts small and grows by
// copying, which cost the invoker 2% of its CPU per activation, and a
// worker keeps its grown stack. Workers end when Consume returns. When ctx ends it stops pulling, hands back what was fetched but
// not taken (HandBack), waits for the work in flight and returns nil. When
// the consumer is deleted, or its iterator closes, while ctx lives, nothing
// more will come: it waits for the work in flight and returns that error.
// Other errors of the iterator are logged as what's and the loop goes on.
// work acknowledges its message.
func Consume(ctx context.Context, it jetstream.MessagesContext, inFlight int, what string, log *slog.Logger,
	work func(ctx context.Context, msg jetstream.Msg)) error {
	var pool workers.Group
	defer pool.Wait()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			it.Drain() // Next then returns what was fetched, then an error
		case <-stopped:
		}
	}()
	slots := make(chan struct{}, inFlight)
	wctx := context.WithoutCancel(ctx)
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
		pool.Go(func() { // within inFlight (slots)
			work(wctx, msg)
			<-slots
		})
	}
}

// ConsumeBatches is Consume for work that handles messages in batches, so
// that what a batch pays once (a read of shared state, a group commit of
// its writes: Batch) is shared by its messages: it takes a message as it
// comes, with the messages already fetched behind it, up to maxBatch, and
// hands them to one of inFlight workers, once one is free. So a lone
// message goes at once, in a batch of one, and under load the batches grow
// while the batches in flight wait. Stopping and errors are as for
// Consume; work acknowledges each of its messages.
func ConsumeBatches(ctx context.Context, it jetstream.MessagesContext, maxBatch, inFlight int, what string, log *slog.Logger,
	work func(ctx context.Context, msgs []jetstream.Msg)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	// The iterator blocks; a pump turns it into a channel that the loop
	// can take the fetched messages from without blocking.
	fetched := make(chan jetstream.Msg, maxBatch)
	var ended error // set before fetched closes
	go func() {
		defer close(fetched)
		for {
			msg, err := it.Next()
			if err == nil {
				fetched <- msg
				continue
			}
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrMsgIteratorClosed):
				ended = fmt.Errorf("consume %s: %w", what, err)
				return
			}
			log.Warn("consumer", "consumer", what, "err", err)
		}
	}()
	handBack := func() error {
		it.Drain() // Next returns what was fetched, then an error
		for msg := range fetched {
			_ = msg.Nak()
		}
		return nil
	}
	// Workers that live as long as the loop: a goroutine per batch would
	// grow a new stack for every batch.
	slots := make(chan struct{}, inFlight)
	batches := make(chan []jetstream.Msg)
	defer close(batches)
	for range inFlight {
		wg.Go(func() {
			for msgs := range batches {
				work(context.WithoutCancel(ctx), msgs)
				<-slots
			}
		})
	}
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return handBack()
		}
		var msgs []jetstream.Msg
		select {
		case msg, ok := <-fetched:
			if !ok {
				<-slots
				if ctx.Err() != nil {
					return nil
				}
				return ended
			}
			msgs = append(make([]jetstream.Msg, 0, min(maxBatch, len(fetched)+1)), msg)
		case <-ctx.Done():
			<-slots
			return handBack()
		}
	more:
		for len(msgs) < maxBatch {
			select {
			case msg, ok := <-fetched:
				if !ok {
					break more
				}
				msgs = append(msgs, msg)
			default:
				break more
			}
		}
		if ctx.Err() != nil {
			<-slots
			for _, msg := range msgs {
				_ = msg.Nak()
			}
			return handBack()
		}
		batches <- msgs // a worker is free: this one holds its slot
	}
}
