// Package builtins holds Gust's built-in actions that talk back to the
// services its feeds listen to. They run in Gust's invoker without a
// container (invoker.KindBuiltin), with activation records, logs and
// errors like any action, and can be invoked, bound, chained in sequences
// and run by rules:
//
//   - /whisk.system/slack/post: channel, text, blocks, thread_ts; with a
//     bot token (botToken, e.g. bound: gust package bind
//     /whisk.system/slack myslack -p botToken xoxb-...) it calls
//     chat.postMessage, with an incoming webhook url it posts there.
//     apiUrl points it at another Slack Web API (slack-go's slacktest).
//   - /whisk.system/github/comment: repository, number, body, accessToken
//     and baseUrl; it comments on the issue or pull request through
//     go-github.
//   - /whisk.system/mqtt/publish: topic, payload, qos, retain; it
//     publishes to the devices on Gust's own MQTT listener, below the
//     caller's namespace, or with url (username, password) to a broker.
//
// An error (a missing parameter, Slack's, GitHub's or the broker's refusal) ends the
// activation as an application error whose "error" says what happened.
package builtins
