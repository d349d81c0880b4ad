package main

// The feed providers built into gust.
import (
	_ "github.com/gusthub/gust/feeds/alarms"
	_ "github.com/gusthub/gust/feeds/cloudevents"
	_ "github.com/gusthub/gust/feeds/couchdb"
	_ "github.com/gusthub/gust/feeds/github"
	_ "github.com/gusthub/gust/feeds/mqtt"
	_ "github.com/gusthub/gust/feeds/slack"
	_ "github.com/gusthub/gust/feeds/webhook"
)
