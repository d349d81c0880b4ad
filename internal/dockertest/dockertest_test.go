package dockertest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gusthub/gust/internal/dockertest"
)

// fakeTB records what Require does to a test instead of doing it.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) { f.skipped = fmt.Sprintf(format, args...) }

func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestRequire(t *testing.T) {
	down := func(context.Context) error { return errors.New("connection refused") }
	for _, tc := range []struct {
		name, env       string
		ping            func(context.Context) error
		skipped, failed string
	}{
		{name: "engine answers", ping: func(context.Context) error { return nil }},
		{name: "no engine on a laptop", ping: down, skipped: "no Docker engine reachable (set GUST_REQUIRE_DOCKER=1 to fail instead): connection refused"},
		{name: "no engine in CI", env: "1", ping: down, failed: "GUST_REQUIRE_DOCKER=1 but no Docker engine is reachable: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(dockertest.RequireEnv, tc.env)
			f := &fakeTB{TB: t}
			dockertest.Require(f, tc.ping)
			if f.skipped != tc.skipped || f.failed != tc.failed {
				t.Errorf("skipped %q, failed %q; want %q, %q", f.skipped, f.failed, tc.skipped, tc.failed)
			}
		})
	}
}
