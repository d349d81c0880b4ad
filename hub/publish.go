package hub

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishAckWait bounds how long Publish waits for JetStream's
// acknowledgement when ctx has no deadline, as jetstream's own default.
const publishAckWait = 10 * time.Second

// Publish stores m in its stream, as jetstream's PublishMsg, and returns
// once JetStream has acknowledged it. It hands m to the connection's
// asynchronous publisher and waits for the acknowledgement: on the
// in-process connection that costs about half the CPU of a synchronous
// publish (a request with a context, a timer and a reply of its own), and
// the acknowledgements of writes made at once arrive together. When the
// asynchronous publisher has too many acknowledgements outstanding, m is
// published synchronously.
//
// While its stream has no leader on a cluster (one is being elected: a
// node was just lost), nobody answers and m is certainly not stored:
// Publish tries again
// for up to leaderWait, within ctx, so that a client is not refused for a
// failover the cluster rides through in a few seconds.
func Publish(ctx context.Context, js jetstream.JetStream, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	deadline := time.Now().Add(leaderWait)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		try := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: maps.Clone(m.Header)} // a publish sets its reply
		ack, err := publishOnce(ctx, js, try, opts...)
		if !noLeader(err) || !clustered(js) || time.Now().Add(wait).After(deadline) {
			return ack, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

// leaderWait bounds how long Publish waits for its stream to elect a
// leader; NATS elects one within a few seconds of losing it.
const leaderWait = 10 * time.Second

// noLeader reports whether a publish failed because no server answered
// for its stream: then nothing was stored.
func noLeader(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}

// clustered reports whether js is connected to a cluster, where a stream
// may be without a leader for a while; a server alone that does not
// answer has no stream for the subject.
func clustered(js jetstream.JetStream) bool { return js.Conn().ConnectedClusterName() != "" }

func publishOnce(ctx context.Context, js jetstream.JetStream, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	f, err := js.PublishMsgAsync(m, opts...)
	if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
		return js.PublishMsg(ctx, m, opts...)
	}
	if err != nil {
		return nil, err
	}
	return WaitAck(ctx, f)
}

// WaitAck waits for the acknowledgement of an asynchronous publish, up to
// ctx's deadline or, without one, publishAckWait.
func WaitAck(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		t := time.NewTimer(publishAckWait)
		defer t.Stop()
		timeout = t.C
	}
	return awaitAck(ctx, f, timeout)
}
