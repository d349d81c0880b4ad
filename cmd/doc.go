// Package gustcmd is Gust's command line and composition root, importable
// so that a custom gust binary is a main package of blank imports (the feed
// providers it carries) and one call:
//
//	package main
//
//	import (
//		gustcmd "github.com/gusthub/gust/cmd"
//
//		_ "github.com/gusthub/gust/feeds/alarms"
//		_ "example.com/myfeeds/countdown" // a feed provider from outside
//	)
//
//	func main() { gustcmd.Main() }
//
// `gust serve` builds and runs every component (hub, invoker, dispatcher,
// rule engine, feeds, API) under one lifecycle; the other commands are the
// CLI that manages a Gust. The built-in feeds register the way an outside
// one does: cmd/gust, the stock binary, imports them blank.
package gustcmd
