// Command custom-gust is a gust binary of one's own: the built-in feeds
// Gust's users expect, plus a feed provider from outside Gust (countdown).
// It is all of gust (serve, the CLI, the action proxy) by one call.
package main

import (
	gustcmd "github.com/gusthub/gust/cmd"

	_ "github.com/gusthub/gust/actions/builtins"
	_ "github.com/gusthub/gust/examples/custom-gust/countdown"
	_ "github.com/gusthub/gust/feeds/alarms"
	_ "github.com/gusthub/gust/feeds/cloudevents"
	_ "github.com/gusthub/gust/feeds/webhook"
)

func main() { gustcmd.Main() }
