package dockertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// RequireEnv is the environment variable that turns Require's skip into a
// failure when it is "1".
const RequireEnv = "GUST_REQUIRE_DOCKER"

// pingTimeout bounds Require's ping.
const pingTimeout = 5 * time.Second

// Require returns when ping reports a Docker engine reachable within 5 s;
// otherwise it skips tb, or fails it when GUST_REQUIRE_DOCKER=1, saying
// why. A nil ping pings the engine the environment names (DOCKER_HOST, or
// the default socket). A ping that sets up something to close (a client, a
// sandbox) registers that with tb.Cleanup, which runs on a skip too.
func Require(tb testing.TB, ping func(ctx context.Context) error) {
	tb.Helper()
	if ping == nil {
		ping = pingEnv
	}
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	err := ping(ctx)
	cancel()
	if err == nil {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s=1 but no Docker engine is reachable: %v", RequireEnv, err)
		return
	}
	tb.Skipf("no Docker engine reachable (set %s=1 to fail instead): %v", RequireEnv, err)
}

// pingEnv pings the engine of the environment.
func pingEnv(ctx context.Context) error {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Ping(ctx)
	return err
}
