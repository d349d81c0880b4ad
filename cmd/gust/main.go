// Command gust is Gust in one binary: `gust serve` runs the event hub (NATS
// JetStream, API, feeds, rules, invoker) and every other command is the CLI
// that manages it. Run as gust-proxy (argv[0]) it is the action proxy inside
// action containers. All of it is package gustcmd; this binary adds the
// built-in feed providers (feeds.go), as a custom binary adds its own.
package main

import gustcmd "github.com/gusthub/gust/cmd"

func main() { gustcmd.Main() }
