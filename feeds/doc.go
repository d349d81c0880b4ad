// Package feeds runs Gust's event sources: the provider interface and
// registry, and the manager that binds feed instances to triggers.
//
// A provider is one package (under feeds/, or anywhere: see the Provider
// example) that registers itself from init (feeds.Register). It declares
// its parameters with their types (Param, Type); the framework parses and
// checks them (Provider.Build) before the provider's New reads them typed
// from Config.Values, which refuses a parameter the provider did not
// declare. New builds an instance: a Feed that Runs until its context ends,
// emitting CloudEvents on its trigger, a Receiver that takes its events
// over HTTP, or both. Providers appear to OpenWhisk clients
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
