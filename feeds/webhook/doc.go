// Package webhook is the generic webhook feed, /whisk.system/webhook/webhook:
// it gives a trigger its own URL (feeds.ReceivePath + "<namespace>/<trigger>",
// shown as "url" by the feed's CREATE and READ) and turns every POST to it
// into one CloudEvent that fires the trigger.
//
//	wsk trigger create deploys --feed /whisk.system/webhook/webhook -p secret "$GITHUB_WEBHOOK_SECRET"
//
// # Parameters
//
//   - token: a bearer token; requests carry "Authorization: Bearer <token>"
//     (or ?access_token=<token>).
//   - secret: an HMAC-SHA256 key; requests carry GitHub's
//     "X-Hub-Signature-256: sha256=<hex>" (or X-Gust-Signature), the HMAC
//     of the raw body, so a GitHub webhook with that secret works as is.
//   - type: the CloudEvent type of the events (optional).
//
// Both token and secret may be given: then a request needs both. With
// neither, the feed generates a token, shown once by CREATE; READ masks
// both. Tokens and secrets are at least 8 characters. See package ingress.
//
// # The event
//
//   - id: the first of the headers IDHeaders lists (Idempotency-Key,
//     X-GitHub-Delivery, X-Gitlab-Event-UUID, X-Delivery-Id, X-Webhook-Id,
//     X-Request-Id) that the request has, so that a sender's redelivery is
//     dropped as a duplicate; without one a random UUID, so that two
//     identical posts are two events.
//   - source: the feed's URL.
//   - type: the type parameter; else com.github.<X-GitHub-Event> (e.g.
//     com.github.push) for a GitHub delivery; else dev.gust.webhook.
//   - time: when Gust received the request.
//   - datacontenttype and data: the request's Content-Type and body, as
//     they came. A JSON body (application/json or +json) must be valid
//     JSON; a GitHub form delivery (application/x-www-form-urlencoded
//     with the one field payload=<JSON>) becomes that JSON; any other
//     body is taken as it is, byte for byte; a body without Content-Type
//     is application/json when it is valid JSON, else text/plain;
//     charset=utf-8 when it is valid UTF-8, else application/octet-stream.
//     An empty body gives an event without data. The action gets the data
//     as hub.DataParameters says: a binary body base64 in __ow_body, its
//     media type in __ow_headers, as a raw web action gets it.
//
// # Answers
//
// 202 {"id": "<event id>"} once JetStream stored the event; 400 for a
// body that is not the JSON its Content-Type says or an unusable id
// header; 401 for a missing or wrong token or signature (nothing is
// published); 413 for a body over 25 MB; 405 for methods other than POST
// and OPTIONS (the CloudEvents webhook handshake, as package ingress
// describes).
package webhook
