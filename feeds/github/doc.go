// Package github is the GitHub feed, /whisk.system/github/webhook: a
// trigger's own webhook URL for a repository's (or an organization's)
// GitHub deliveries, each turned into one CloudEvent.
//
//	gust trigger create pushes --feed github/webhook -p repository owner/repo -p events push,pull_request
//	gust trigger create pushes --feed github/webhook -p repository owner/repo -p accessToken "$GITHUB_TOKEN"
//
// # Parameters
//
//   - repository: owner/repo; OpenWhisk's form, username plus repository,
//     works too. Or organization, for an organization-wide hook.
//   - events: the GitHub events to fire on, a comma list or a JSON array,
//     or * for all; default push.
//   - secret: the hook's secret; generated and shown once by CREATE when
//     absent, masked by READ.
//   - accessToken: a GitHub token with admin rights on the repository (or
//     the organization). With it, CREATE registers the hook through
//     GitHub's API (content type json, the secret, the events, the feed's
//     URL, which `gust serve --public-url` sets), READ shows its id as
//     hookId, and DELETE removes it. A GitHub API error at CREATE fails it
//     with GitHub's message, and nothing is stored. Without a token, CREATE
//     and READ show the URL and the secret to paste into GitHub's hook
//     settings.
//   - baseUrl: GitHub's API URL, https://api.github.com/ by default; for
//     GitHub Enterprise Server https://HOST/api/v3/.
//
// # Deliveries
//
// The feed verifies X-Hub-Signature-256 with go-github (HMAC-SHA256 of the
// raw body, compared in constant time); a delivery signed with SHA-1 only,
// unsigned, or signed with another secret is refused 401 and nothing is
// stored. Content types application/json and application/x-www-form-urlencoded
// (payload=<JSON>) are taken. X-GitHub-Event is parsed with go-github;
// event types newer than go-github v60 pass through as their raw JSON.
// A ping is answered 200 without firing, as are events the feed does not
// subscribe to ({"fired": false}).
//
// The CloudEvent of a delivery:
//
//   - type: com.github.<event>, plus .<action> when the payload has one
//     (com.github.push, com.github.pull_request.opened).
//   - source: the repository's page, https://github.com/<owner>/<repo>
//     (the organization's page for organization events without one).
//   - subject: the ref of a push, create or delete; the number of an
//     issue or pull request (and of their comments and reviews); the tag
//     of a release.
//   - id: X-GitHub-Delivery, so that a redelivery runs nothing twice.
//   - datacontenttype application/json, data: the payload as GitHub sent it.
//
// # Answers
//
// 202 {"id": "<delivery>"} once JetStream stored the event; 200
// {"fired": false} for ping and for events not subscribed to; 400 for a
// payload that is not JSON (or not the event X-GitHub-Event names), an
// unknown content type, a missing X-GitHub-Event or X-GitHub-Delivery; 401
// for a missing or wrong signature; 413 for a body over GitHub's 25 MB.
// An unknown feed URL is a 404 (package feeds).
package github
