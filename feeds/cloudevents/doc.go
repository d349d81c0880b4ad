// Package cloudevents is the CloudEvents HTTP ingress feed,
// /whisk.system/cloudevents/ingress: it gives a trigger its own URL
// (feeds.ReceivePath + "<namespace>/<trigger>", shown as "url" by the
// feed's CREATE and READ) where producers that hold no namespace key POST
// CloudEvents, and fires the trigger with each event as it came: id,
// source, type, subject, time, dataschema, extensions and data intact
// (JetStream drops an event whose id the trigger saw within its dedup
// window, so a producer's retry does not fire twice).
//
//	wsk trigger create orders --feed /whisk.system/cloudevents/ingress
//	wsk trigger create orders --feed /whisk.system/cloudevents/ingress -p secret "$HMAC_KEY"
//
// # Parameters
//
//   - token: a bearer token; requests carry "Authorization: Bearer <token>"
//     (or ?access_token=<token>, as the CloudEvents webhook spec allows).
//   - secret: an HMAC-SHA256 key; requests carry
//     "X-Gust-Signature: sha256=<hex>" (or GitHub's X-Hub-Signature-256),
//     the HMAC of the raw body.
//
// Both may be given: then a request needs both. With neither, the feed
// generates a token, shown once by CREATE; READ masks both. Tokens and
// secrets are at least 8 characters. See package ingress for the details.
//
// # Requests
//
// The three content modes of the CloudEvents HTTP binding (spec 1.0 and
// 0.3) are read:
//
//   - binary: attributes and extensions in ce- headers (percent-decoded
//     per the binding, a value with a stray '%' taken as it is, since the
//     Go and Java SDKs do not encode), Content-Type as datacontenttype,
//     the body as data;
//   - structured: Content-Type application/cloudevents+json, one event as
//     JSON (data, or data_base64 for binary data);
//   - batch: Content-Type application/cloudevents-batch+json, a JSON array
//     of structured events (at most 1,000). Every event is checked before
//     any is emitted; they are emitted in order, and a failure to store
//     one answers 500 after the events before it were stored: the sender
//     retries the batch and the stored ones are dropped as duplicates.
//
// OPTIONS answers the webhook abuse-protection handshake (200,
// WebHook-Allowed-Origin, WebHook-Allowed-Rate when asked; callbacks are
// not made). Other methods are 405.
//
// # Answers
//
//   - 202 {"id": "<event id>"} (batch: {"ids": [...]}) once JetStream has
//     stored the events;
//   - 400 naming the attribute for an invalid event: 'specversion' missing
//     or not 1.0/0.3, 'id', 'source' or 'type' missing, a malformed
//     'time', 'datacontenttype' that is no media type or does not fit the
//     data (a JSON object under text/plain), a request that is no
//     CloudEvent at all (no ce-specversion and no CloudEvents
//     Content-Type), an unknown format (application/cloudevents+xml), a
//     bad gusthops extension;
//   - 401 for a missing or wrong token or signature, and nothing is
//     published;
//   - 413 for a body over 25 MB or a batch over 1,000 events;
//   - 500 or 503 when the event could not be stored.
//
// The API writes errors as OpenWhisk's {"error", "code"} body.
package cloudevents
