// Package api serves Gust's REST API, wire-compatible with Apache
// OpenWhisk's /api/v1 so that the stock wsk CLI and OpenWhisk client
// libraries work unchanged: namespaces, actions, packages and bindings,
// triggers, rules, activations and limits, with OpenWhisk's status codes,
// error bodies and JSON shapes. Web actions are served under WebPrefix.
//
// Callers authenticate with HTTP Basic auth using a namespace key
// (uuid:key); Identities keeps only hashes of the keys. Every error reaches
// the client through one function, writeError, as {"error", "code"}.
//
// Gust extensions sit beside the OpenWhisk routes without changing them:
// GET .../activations/{id}/tree answers an activation with every
// activation it caused, recursively (actions.BuildTree): a trigger's rules
// and their actions, a sequence's components, each with status, duration
// and logs.
package api
