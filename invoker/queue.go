package invoker

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
)

// The invocation queue (hub/invocations.go) as this package consumes it:
// every invoker pulls from the shared durable consumer "invokers", so that
// each invocation goes to one invoker, and from its own home consumer
// (placement.go).
const (
	// InvokeStream is the queue's stream (hub.InvocationsStream).
	InvokeStream   = hub.InvocationsStream
	invokeConsumer = "invokers"
	homePrefix     = hub.HomePrefix
)

// bindQueue returns the invocation queue as serve provisioned it
// (hub.OpenInvocations), creating it only when it does not exist.
func bindQueue(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return hub.BindInvocations(ctx, js)
}

// trimInterval is how often an invoker purges the invocations taken.
const trimInterval = time.Second

// trimQueue purges, every trimInterval until ctx ends, the invocations
// below the queue's floor (queueFloor): every one of them was taken by an
// invoker and has its record stored. Invokers acknowledge an invocation
// once it ran, so the floor lags the queue by the longest activation in
// flight.
func (iv *Invoker) trimQueue(ctx context.Context, st jetstream.Stream) {
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	var purged uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		floor, ok := queueFloor(ctx, st)
		if !ok || floor <= purged {
			continue // the next tick tries again
		}
		if err := st.Purge(ctx, jetstream.WithPurgeSequence(floor+1)); err != nil {
			if ctx.Err() == nil {
				iv.log.Warn("trim the invocation queue", "err", err)
			}
			continue
		}
		purged = floor
	}
}
