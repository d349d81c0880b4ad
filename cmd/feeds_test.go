package gustcmd

// The feed providers and built-in actions the stock gust binary carries
// (cmd/gust/feeds.go, builtins.go), for the tests that run commands in
// this process.
import (
	_ "github.com/gusthub/gust/actions/builtins"
	_ "github.com/gusthub/gust/feeds/alarms"
	_ "github.com/gusthub/gust/feeds/cloudevents"
	_ "github.com/gusthub/gust/feeds/couchdb"
	_ "github.com/gusthub/gust/feeds/github"
	_ "github.com/gusthub/gust/feeds/mqtt"
	_ "github.com/gusthub/gust/feeds/slack"
	_ "github.com/gusthub/gust/feeds/webhook"
)
