// Package feeds runs Gust's event sources: the provider interface and
// registry, and the manager that binds feed instances to triggers.
//
// A provider is one package under feeds/ that registers itself from init
// (feeds.Register) and builds instances (Feed) that Run until their context
// ends, emitting CloudEvents on their trigger. Providers that take events
// over HTTP also implement Receiver. Providers appear to OpenWhisk clients
// as feed actions in the system namespace (/whisk.system/alarms/alarm, ...),
// so `wsk trigger create T --feed /whisk.system/alarms/alarm -p cron ...`
// drives them through OpenWhisk's feed lifecycle (CREATE, READ, UPDATE,
// DELETE, PAUSE, UNPAUSE).
//
// The manager keeps instance configuration, status and checkpoints in
// JetStream key-value buckets. Among the Gust processes sharing one NATS,
// each instance runs on exactly one (a lease that its owner renews and
// another process takes over when the owner dies); receivers are served by
// every process.
package feeds
