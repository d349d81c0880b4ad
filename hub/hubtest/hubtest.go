package hubtest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/hub"
)

// Start runs a hub on tb's temporary directory until tb ends.
func Start(tb testing.TB) *hub.Hub {
	tb.Helper()
	return StartWith(tb, hub.Options{})
}

// StartWith runs a hub with opts until tb ends, on tb's temporary
// directory unless opts names a data directory or a server URL.
func StartWith(tb testing.TB, opts hub.Options) *hub.Hub {
	tb.Helper()
	if opts.DataDir == "" && opts.URL == "" {
		opts.DataDir = tb.TempDir()
	}
	h, err := hub.Start(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// Events runs a hub as Start does and opens its event stream.
func Events(tb testing.TB) (*hub.Hub, jetstream.Stream) {
	tb.Helper()
	h := Start(tb)
	st, err := hub.OpenEvents(context.Background(), h.JetStream())
	if err != nil {
		tb.Fatal(err)
	}
	return h, st
}

// Connect connects to the NATS server at url, as a client of a gust serve
// under test, until tb ends, and returns its JetStream. It gives the
// server 20 s to answer, not nats.go's 2: a serve just restarted on a busy
// machine may take longer to greet a new client (CI: "read tcp ...: i/o
// timeout" after a crash soak's restart).
func Connect(tb testing.TB, url string) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(url, nats.Timeout(20*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}
