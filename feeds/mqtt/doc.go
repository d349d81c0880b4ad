// Package mqtt is Gust's MQTT feed, /whisk.system/mqtt/subscribe: every
// message an MQTT broker delivers on the feed's topic filters fires the
// trigger. Import it for its side effect, which registers the provider:
//
//	import _ "github.com/gusthub/gust/feeds/mqtt"
//
// and subscribe with
//
//	gust trigger create temps --feed mqtt/subscribe -p url tcp://127.0.0.1:1883 -p topic 'devices/+/temperature'
//
// # Gust's own listener
//
// Without url, the feed takes the messages that devices publish to Gust's
// own MQTT listener (gust serve --mqtt-listen 127.0.0.1:1883, the embedded
// NATS server's) in the trigger's namespace. A device logs in with its own
// credentials (gust device create NAME: user "<namespace>/NAME") or with a
// key of the namespace (user = its uuid, password = its secret) and publishes
// below "<namespace>/", e.g. guest/devices/k1/temperature; it can neither
// publish nor subscribe outside it. The feed's topic filters are below
// that prefix (topic devices/+/temperature), the events' source is
// mqtt://gust/<namespace> and their subject the topic without the prefix.
//
// # Parameters
//
//   - url: the broker, tcp:// (or mqtt://), ssl:// (tls://,
//     mqtts://), ws:// or wss://; user:password@ in it is taken as the
//     credentials.
//   - topic (required): a topic filter, + for one level and # for all
//     below; several separated by commas.
//   - qos: the subscription's quality of service, 0, 1 (default) or 2.
//   - username, password (secret): the credentials.
//   - clientId: the client id of the feed's session. The default is gust-
//     and a hash of the trigger's name: the same for every restart and on
//     every Gust process, so the broker keeps one session for the feed.
//   - caCert, clientCert, clientKey (secret): PEM text, for ssl:// and
//     wss://; insecureSkipVerify true skips the check of the broker's
//     certificate, only when asked.
//
// An invalid URL, topic filter or QoS is refused at CREATE with a 400 that
// names the parameter. A broker that cannot be reached or refuses the
// credentials is not: READ shows the error (status.lastError) while the
// feed retries with a growing backoff.
//
// # Events
//
// Each message is one CloudEvent: type org.mqtt.message, source
// mqtt://<host>:<port>, subject the topic (control characters, which
// CloudEvents attributes may not hold, percent-encoded:
// hub.SafeAttribute), data the payload as JSON
// (datacontenttype application/json) when it parses as JSON, else the raw
// bytes as application/octet-stream, which actions get base64-encoded in
// __ow_body (hub.DataParameters). Rules filter on the topic with the
// existing dialects: {"prefix":{"subject":"devices/"}}.
//
// # Delivery
//
// The feed connects with clean session off, so the broker keeps its
// subscriptions and the QoS 1 and 2 messages published while Gust is down,
// and delivers them when the feed is back. It acknowledges a message only
// after its event is stored in JetStream (paho's manual acknowledgement):
// a message that could not be stored is delivered again. The event id of
// a QoS 1 or 2 message is a hash of the session, packet id, topic and
// payload, so that a redelivery of a message already stored is dropped by
// the events stream's duplicate window (two different messages collide
// only when the same topic and payload come with the same packet id within
// ten minutes, that is after 65,535 other messages of the session); QoS 0
// messages get random ids. A lost connection ends the instance with an
// error, and the manager connects again after a backoff.
//
// A message up to MaxPayload (25 MB, the largest event a feed takes) is
// stored, its data over hub.InlineDataLimit by reference; a larger one is
// acknowledged (it can never be stored), logged, and READ counts it in
// status.dropped and names it in status.lastError. On Gust's own listener
// a device's message is bounded by the bus (hub.MaxMessage, 8 MB with the
// headers): the NATS server closes the connection of a device that sends
// more, and logs "Maximum Payload Violation".
//
// # Status
//
// READ shows status.connected: false while the feed connects or retries
// (with the broker's error in status.lastError), true once it is
// subscribed.
package mqtt
