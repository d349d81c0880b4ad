// Package soak holds Gust's crash soak, a test only: trigger fires and
// non-blocking invokes from several clients while the `gust serve`
// process is killed with SIGKILL at random moments and restarted on the
// same data directory, or while its Docker engine goes away and comes
// back. It counts, per event, what was accepted, lost, duplicated and
// refused while Gust was down.
//
// `go test ./internal/soak` runs a small soak (a few hundred events, one
// kill); `make soak` runs the full one (GUST_SOAK=1: 10,000 fires, 2,000
// invokes, 8 clients, 3 kills). GUST_SOAK_FIRES, GUST_SOAK_INVOKES,
// GUST_SOAK_CLIENTS and GUST_SOAK_KILLS change the counts.
package soak
