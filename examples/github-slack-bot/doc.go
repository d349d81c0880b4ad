// Package githubslackbot is the GitHub → Slack bot example: GitHub push,
// pull request and issue events become messages in a Slack channel, and a
// Slack app_mention is answered in its thread. README.md has the commands;
// the test runs them end to end against a real gust serve, with real
// signed GitHub and Slack payloads and slack-go's slacktest as Slack.
package githubslackbot
