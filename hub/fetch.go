package hub

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/internal/backoff"
)

// fetchReachWait bounds how long FetchNoWait waits for a consumer to be
// reachable.
const fetchReachWait = 2 * time.Second

// FetchNoWait is c.FetchNoWait(n) with its messages read. On a cluster, a
// consumer just created may live on another server whose interest in the
// consumer's requests has not reached this one over the routes yet: NATS
// answers "no responders", for a few milliseconds (seen after a node
// restarted, for one fetch in ten). FetchNoWait then tries again, for up
// to fetchReachWait.
func FetchNoWait(ctx context.Context, c jetstream.Consumer, n int) ([]jetstream.Msg, error) {
	deadline := time.Now().Add(fetchReachWait)
	pause := backoff.Backoff{Min: 10 * time.Millisecond, Max: fetchReachWait}
	for {
		msgs, err := fetchNoWait(c, n)
		if len(msgs) > 0 || !errors.Is(err, nats.ErrNoResponders) || time.Now().After(deadline) {
			return msgs, err
		}
		if !backoff.Wait(ctx, pause.Next()) {
			return nil, err
		}
	}
}

func fetchNoWait(c jetstream.Consumer, n int) ([]jetstream.Msg, error) {
	batch, err := c.FetchNoWait(n)
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
		return msgs, err
	}
	return msgs, nil
}
