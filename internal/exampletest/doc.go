// Package exampletest runs the commands of an example's README in a test:
// it builds the gust binary (Binary), runs `gust serve` in a temporary data
// directory as a separate process (Serve, ServeNode), runs gust CLI
// commands against it (Gust.Run), and stops, kills and restarts it
// (Gust.Stop, Kill, Start). The cmd and invoker tests use its binary too,
// as the action proxy of their runtime images.
//
// It is a test helper: only _test.go files import it.
package exampletest
