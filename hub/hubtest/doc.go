// Package hubtest starts the embedded hub for tests: a NATS server with
// JetStream on a temporary data directory, closed when the test ends.
//
// It is a test helper: only _test.go files and other test helpers
// (internal/feedrun) import it.
package hubtest
