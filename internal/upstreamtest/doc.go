// Package upstreamtest starts the real servers Gust's MQTT and CouchDB
// feeds talk to in tests: mosquitto (Debian package mosquitto) and
// pouchdb-server (npm), each on a free loopback port, stopped when the
// test ends; and finds Debian's chromium for the tests that drive the
// console in a headless browser. A test whose program is not installed is
// skipped on a developer's laptop and fails in CI (CI=true, or
// GUST_REQUIRE_DOCKER=1 as .ci/run sets it), so that a missing program
// never passes for a green run.
//
// It is a test helper: only _test.go files import it.
package upstreamtest
