// Package slack is the Slack feed, /whisk.system/slack/events: the Events
// API request URL of a Slack app, each event turned into one CloudEvent.
//
//	gust trigger create mentions --feed slack/events -p signingSecret "$SLACK_SIGNING_SECRET" -p events app_mention
//
// Paste the URL CREATE shows into the app's Event Subscriptions; Slack's
// url_verification request, once its signature is checked, is answered 200
// with its challenge as text/plain, the body the bare value.
//
// With an app-level token instead, the feed needs no public URL: it takes
// the events over Socket Mode (slack-go's socketmode), for bots behind a
// firewall:
//
//	gust trigger create mentions --feed slack/events -p appToken "$SLACK_APP_TOKEN" -p events app_mention
//
// # Parameters
//
//   - signingSecret (required unless appToken is given): the app's signing secret. Every request
//     must carry X-Slack-Signature (v0, HMAC-SHA256 of
//     "v0:<timestamp>:<body>", checked with slack-go's SecretsVerifier in
//     constant time) and an X-Slack-Request-Timestamp within 5 minutes;
//     otherwise it is refused 401 and nothing is stored.
//   - appToken: an app-level token (xapp-..., scope connections:write):
//     the feed is then a Socket Mode client. It opens the connection with
//     apps.connections.open, holds the WebSocket (slack-go reconnects when
//     Slack asks it to), and acknowledges each events_api envelope once its
//     event is stored; an envelope not stored is not acknowledged, so Slack
//     sends it again, and its event_id runs once. READ shows
//     status.connected. A token Slack refuses fails the instance with
//     Slack's error (shown in status.lastError, tried again later).
//   - apiUrl: Slack's Web API URL for Socket Mode (default
//     https://slack.com/api/), under the egress policy (gust serve
//     --egress-allow): the WebSocket URL Slack answers is checked too,
//     when dialing.
//   - botToken: the bot token, kept (masked) for the actions that answer.
//   - events: event types to fire on (comma list or JSON array); default all.
//     Others are answered 200 without firing.
//
// # The event
//
// The same over HTTP and Socket Mode (an envelope's payload is the body
// Slack would have POSTed):
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
