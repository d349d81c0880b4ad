// Package ingress holds what Gust's HTTP feeds (feeds/webhook,
// feeds/cloudevents) share: authentication of the sender by a bearer token
// or an HMAC-SHA256 signature over the raw body, the CloudEvents webhook
// abuse-protection handshake (OPTIONS), reading the body within its limit,
// and the answer after the events are stored.
//
// # Authentication
//
// A feed takes the parameters of Params: "token", "secret", or both (then
// a request must pass both checks). With neither, NewAuth generates a
// token and adds it to the parameters, so the feed's CREATE shows it once.
//
//   - token: the request carries "Authorization: Bearer <token>", or the
//     query parameter access_token=<token> as the CloudEvents webhook spec
//     allows (prefer the header: query strings end up in logs).
//   - secret: the request carries "X-Gust-Signature: sha256=<hex>" or
//     GitHub's "X-Hub-Signature-256: sha256=<hex>", the lowercase or
//     uppercase hex HMAC-SHA256 of the raw request body keyed with the
//     secret (Signature computes it). SHA-1 signatures (X-Hub-Signature)
//     are not accepted.
//
// Both are compared in constant time (hmac.Equal). A request that fails is
// answered 401 and nothing is published.
//
// # Abuse protection
//
// Handshake answers the validation request of the CloudEvents HTTP webhook
// spec (OPTIONS with WebHook-Request-Origin): 200 with
// WebHook-Allowed-Origin set to the requested origin (the feed's token or
// signature is what keeps strangers out, not the origin),
// WebHook-Allowed-Rate echoing WebHook-Request-Rate when the sender asks
// for a rate (Gust sets no rate limit), and Allow: POST, OPTIONS. The
// answer is synchronous: Gust never calls a WebHook-Request-Callback URL
// (the ingress makes no outbound requests), which the spec allows since a
// synchronous grant is enough.
package ingress
