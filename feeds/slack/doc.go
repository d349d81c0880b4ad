// Package slack is the Slack feed, /whisk.system/slack/events: the Events
// API request URL of a Slack app, each event turned into one CloudEvent.
//
//	gust trigger create mentions --feed slack/events -p signingSecret "$SLACK_SIGNING_SECRET" -p events app_mention
//
// Paste the URL CREATE shows into the app's Event Subscriptions; Slack's
// url_verification request is answered with its challenge.
//
// # Parameters
//
//   - signingSecret (required): the app's signing secret. Every request
//     must carry X-Slack-Signature (v0, HMAC-SHA256 of
//     "v0:<timestamp>:<body>", checked with slack-go's SecretsVerifier in
//     constant time) and an X-Slack-Request-Timestamp within 5 minutes;
//     otherwise it is refused 401 and nothing is stored.
//   - botToken: the bot token, kept (masked) for the actions that answer.
//   - events: event types to fire on (comma list or JSON array); default all.
//     Others are answered 200 without firing.
//
// # The event
//
//   - type: com.slack.<event.type> (com.slack.app_mention).
//   - source: https://slack.com/<team_id>.
//   - subject: the channel of the event (or of its item).
//   - id: event_id, so that Slack's retries (X-Slack-Retry-Num) run once.
//   - time: event_time; data: the request body as Slack sent it
//     (application/json), the inner event under "event".
//
// The answer, 200 {"id": "<event_id>"}, comes once JetStream stored the
// event, never after an action ran, so Slack's 3-second limit holds.
// Malformed JSON and an event_callback without event, event_id or team_id
// are 400; a body over 1 MB is 413.
package slack
