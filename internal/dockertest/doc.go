// Package dockertest is how Gust's tests say that they need a Docker
// engine: Require skips a test when no engine answers, on a developer's
// laptop, and fails it where GUST_REQUIRE_DOCKER=1 (CI, set by .ci/run), so
// that a missing engine never passes for a green run there. Main runs a
// package's tests and then removes the containers that run left behind
// (those of its Owners), even when the test binary is about to time out.
//
// It is a test helper: only _test.go files import it.
package dockertest
