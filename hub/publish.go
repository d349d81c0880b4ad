package hub

import (
	"context"
	"errors"
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
func Publish(ctx context.Context, js jetstream.JetStream, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
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
