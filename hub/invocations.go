package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The invocation queue, shared by the controller's side that fills it
// (package dispatch) and the invokers that empty it (package invoker):
// controllers publish on gust.invocation.<namespace>, or on one invoker's
// home queue gust.invocation.home.<queue>.<namespace>; invokers pull from
// one shared durable consumer and each from its home consumer, so that
// each invocation goes to one invoker. A finished activation is announced
// on core NATS, on gust.done.<activation id>, to whoever waits for it.
//
// It is a work queue kept on a limits stream, not a work-queue stream:
// there, every acknowledgement removes its message from the file store,
// and a queue that runs empty (every blocking invoke) creates and deletes
// a block file per message. Here an acknowledgement only moves the
// consumer's ack floor, and the invokers purge what lies below it.
const (
	InvocationsStream = "GUST_INVOCATIONS"
	// InvocationPrefix starts every subject of the queue.
	InvocationPrefix = "gust.invocation."
	// HomePrefix starts the subjects of the invokers' home queues.
	HomePrefix = InvocationPrefix + "home."
	// DonePrefix starts the subjects that announce finished activations.
	DonePrefix = "gust.done."

	// legacyInvokeStream is the work-queue stream of earlier versions, on
	// subjects gust.invoke.>: OpenInvocations moves what waits there.
	legacyInvokeStream = "GUST_INVOKE"
	legacyInvokePrefix = "gust.invoke."
)

// InvocationSubject is the shared queue of namespace ns.
func InvocationSubject(ns string) string { return InvocationPrefix + EncodeToken(ns) }

// HomeSubject is the home queue of the invoker named queue, for ns.
func HomeSubject(queue, ns string) string { return HomePrefix + queue + "." + EncodeToken(ns) }

// DoneSubject is the subject that announces activation id's record.
func DoneSubject(id string) string { return DonePrefix + id }

// OpenInvocations creates or updates the invocation queue, and moves into
// it the invocations still waiting in an earlier version's queue.
func OpenInvocations(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	st, err := OpenStream(ctx, js, invocationsConfig())
	if err != nil {
		return nil, err
	}
	if err := migrateLegacyInvocations(ctx, js); err != nil {
		return nil, err
	}
	return st, nil
}

// BindInvocations returns the invocation queue as serve provisioned it
// (OpenInvocations), creating it only when it does not exist.
func BindInvocations(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return BindStream(ctx, js, invocationsConfig())
}

func invocationsConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:      InvocationsStream,
		Subjects:  []string{InvocationPrefix + ">"},
		Retention: jetstream.LimitsPolicy,
		Storage:   jetstream.FileStorage,
		MaxAge:    24 * time.Hour,
	}
}

// migrateLegacyInvocations republishes the invocations of the legacy work
// queue on the queue's subjects, each with its message id (the activation
// id, so that two processes migrating at once do not queue one twice),
// then deletes the legacy stream. What is left in a work queue was not
// taken by any invoker yet.
func migrateLegacyInvocations(ctx context.Context, js jetstream.JetStream) error {
	old, err := js.Stream(ctx, legacyInvokeStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open stream %s: %w", legacyInvokeStream, err)
	}
	state := old.CachedInfo().State
	for seq := state.FirstSeq; state.Msgs > 0 && seq <= state.LastSeq; seq++ {
		m, err := old.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("move invocations of %s: %w", legacyInvokeStream, err)
		}
		msg := nats.NewMsg(InvocationPrefix + strings.TrimPrefix(m.Subject, legacyInvokePrefix))
		msg.Data = m.Data
		if id := m.Header.Get(jetstream.MsgIDHeader); id != "" {
			msg.Header.Set(jetstream.MsgIDHeader, id)
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("move invocations of %s: %w", legacyInvokeStream, err)
		}
	}
	if err := js.DeleteStream(ctx, legacyInvokeStream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete stream %s: %w", legacyInvokeStream, err)
	}
	return nil
}
