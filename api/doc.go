// Package api serves Gust's REST API, wire-compatible with Apache
// OpenWhisk's /api/v1 so that the stock wsk CLI and OpenWhisk client
// libraries work unchanged: namespaces, actions, packages and bindings,
// triggers, rules, activations and limits, with OpenWhisk's status codes,
// error bodies and JSON shapes. Web actions are served under WebPrefix,
// and API routes (wsk api) under theirs.
//
// Callers authenticate with HTTP Basic auth using a namespace key
// (uuid:key); Identities keeps only hashes of the keys. Every error reaches
// the client through one function, writeError, as {"error", "code"}.
//
// Gust extensions sit beside the OpenWhisk routes without changing them. A
// trigger fire may be a CloudEvent or a batch of them (read as the
// CloudEvents ingress feed reads them, package cehttp). GET
// .../activations/{id}/tree answers an activation with every activation it
// caused, recursively (actions.BuildTree): a trigger's rules and their
// actions, a sequence's components, each with status, duration and logs.
// GET .../events streams what became of a namespace's events
// (rules.Outcome); POST .../triggers/{name}/replay puts stored events on
// their trigger again, kept as long as .../retention says; POST
// .../activations/{id}/rerun runs an activation again with its parameters.
// .../devices holds MQTT devices' credentials; .../pool,
// /api/v1/runtimes/building and /api/v1/cluster describe the invokers and
// the cluster. Feeds that receive events over HTTP are served under
// feeds.ReceivePath, and the web console (package console) under
// console.Prefix.
//
// What the server needs of the rest of Gust it declares as small
// interfaces (Config); a part left nil answers its routes with 503. While
// storage is full (Config.Space) writes get 507, and namespaces over their
// throttles (Config.Throttle) get 429.
package api
