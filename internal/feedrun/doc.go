// Package feedrun runs Gust's feed manager on an embedded hub, as one Gust
// process does, for the tests of feed providers that need the whole path:
// lifecycle requests, checkpoints and leases in JetStream, restarts, and
// the events stored on the events stream.
//
// It is a test helper: only _test.go files import it.
package feedrun
