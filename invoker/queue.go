package invoker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
)

// The hub's invocation queue: controllers publish on
// gust.invocation.<namespace>, invokers pull from one shared durable
// consumer, so that each invocation goes to one invoker.
//
// It is a work queue kept on a limits stream, not a work-queue stream:
// there, every acknowledgement removes its message from the file store,
// and a queue that runs empty (every blocking invoke) creates and deletes
// a block file per message. Here an acknowledgement only moves the
// consumer's ack floor, and the invokers purge what lies below it once a
// second (trimQueue).
const (
	InvokeStream   = "GUST_INVOCATIONS"
	invokePrefix   = "gust.invocation."
	invokeConsumer = "invokers"
	// doneSubject is where an invoker announces a finished activation, on
	// core NATS, to whoever waits for it: gust.done.<activation id>.
	doneSubjectPrefix = "gust.done."

	// legacyStream is the work-queue stream of earlier versions, on
	// subjects gust.invoke.>: OpenQueue moves what waits there.
	legacyStream = "GUST_INVOKE"
	legacyPrefix = "gust.invoke."
)

func invokeSubject(ns string) string { return invokePrefix + hub.EncodeToken(ns) }

// DoneSubject is the subject that announces activation id's record.
func DoneSubject(id string) string { return doneSubjectPrefix + id }

// OpenQueue creates or updates the invocation queue, and moves into it the
// invocations still waiting in an earlier version's queue.
func OpenQueue(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	st, err := js.CreateOrUpdateStream(ctx, queueConfig())
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", InvokeStream, err)
	}
	if err := migrateLegacyQueue(ctx, js); err != nil {
		return nil, err
	}
	return st, nil
}

// bindQueue returns the invocation queue as serve provisioned it
// (OpenQueue), creating it only when it does not exist.
func bindQueue(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return hub.BindStream(ctx, js, queueConfig())
}

func queueConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:      InvokeStream,
		Subjects:  []string{invokePrefix + ">"},
		Retention: jetstream.LimitsPolicy,
		Storage:   jetstream.FileStorage,
		MaxAge:    24 * time.Hour,
	}
}

// migrateLegacyQueue republishes the invocations of the legacy work queue
// on the queue's subjects, each with its message id (the activation id, so
// that two processes migrating at once do not queue one twice), then
// deletes the legacy stream. What is left in a work queue was not taken
// by any invoker yet.
func migrateLegacyQueue(ctx context.Context, js jetstream.JetStream) error {
	old, err := js.Stream(ctx, legacyStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open stream %s: %w", legacyStream, err)
	}
	state := old.CachedInfo().State
	for seq := state.FirstSeq; state.Msgs > 0 && seq <= state.LastSeq; seq++ {
		m, err := old.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("move invocations of %s: %w", legacyStream, err)
		}
		msg := nats.NewMsg(invokePrefix + strings.TrimPrefix(m.Subject, legacyPrefix))
		msg.Data = m.Data
		if id := m.Header.Get(jetstream.MsgIDHeader); id != "" {
			msg.Header.Set(jetstream.MsgIDHeader, id)
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("move invocations of %s: %w", legacyStream, err)
		}
	}
	if err := js.DeleteStream(ctx, legacyStream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete stream %s: %w", legacyStream, err)
	}
	return nil
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
