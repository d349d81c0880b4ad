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

// pendingAckTimeout is when the asynchronous publisher forgets a write
// nobody answered; every wait for one has given up long before.
const pendingAckTimeout = time.Minute

// Publish stores m in its stream, as jetstream's PublishMsg, and returns
// once JetStream has acknowledged it. It hands m to the connection's
// asynchronous publisher and waits for the acknowledgement: on the
// in-process connection that costs about half the CPU of a synchronous
// publish (a request with a context, a timer and a reply of its own), and
// the acknowledgements of writes made at once arrive together. When the
// asynchronous publisher has too many acknowledgements outstanding, m is
// published synchronously.
//
// On a cluster, Publish rides through the loss of its stream's leader,
// for up to leaderWait within ctx, so that a client is not refused for a
// failover the cluster gets over in seconds. While the stream has no
// leader, nobody answers and m is certainly not stored: it is published
// again after a pause. A publish the dying leader took and never
// acknowledged may or may not be stored: one with a message id
// (jetstream.WithMsgID) is published again after clusterAckWait, and the
// stream's duplicate window makes the two one message; another is waited
// for publishAckWait, as on a server alone. A leader that lost its quorum
// answers the second with "in process" until it steps down: Publish goes
// on waiting, and past leaderWait returns an error Unconfirmed reports.
func Publish(ctx context.Context, js jetstream.JetStream, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	cluster := clustered(js)
	deadline := time.Now().Add(leaderWait)
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		try := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: maps.Clone(m.Header)} // a publish sets its reply
		f, err := js.PublishMsgAsync(try, opts...)
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return js.PublishMsg(ctx, try, opts...)
		}
		if err != nil {
			return nil, err
		}
		if !cluster {
			return WaitAck(ctx, f)
		}
		ack, err := waitAckFor(ctx, f, clusterAckWait)
		if errors.Is(err, nats.ErrTimeout) {
			if try.Header.Get(jetstream.MsgIDHeader) != "" && time.Now().Before(deadline) {
				continue
			}
			ack, err = waitAckFor(ctx, f, publishAckWait-clusterAckWait)
		}
		// Published again with its id while the first is still in
		// process at the leader (one that lost its quorum cannot commit
		// it): wait for the leader to commit it or step down.
		if !noLeader(err) && !Unconfirmed(err) || time.Now().Add(pause).After(deadline) {
			return ack, err
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

// clusterAckWait is how long Publish waits on a cluster for the
// acknowledgement of a message it may publish again.
const clusterAckWait = 3 * time.Second

// waitAckFor waits for f's acknowledgement for up to d, within ctx.
func waitAckFor(ctx context.Context, f jetstream.PubAckFuture, d time.Duration) (*jetstream.PubAck, error) {
	timeout, stop := expiry(d)
	defer stop()
	return awaitAck(ctx, f, timeout, d)
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

// WaitAck waits for the acknowledgement of an asynchronous publish, up to
// ctx's deadline or, without one, publishAckWait.
func WaitAck(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	var timeout <-chan struct{}
	if _, ok := ctx.Deadline(); !ok {
		var stop func() bool
		timeout, stop = expiry(publishAckWait)
		defer stop()
	}
	return awaitAck(ctx, f, timeout, publishAckWait)
}
