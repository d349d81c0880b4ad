// Package api serves Gust's REST API, wire-compatible with Apache
// OpenWhisk's /api/v1 so that the stock wsk CLI and OpenWhisk client
// libraries work unchanged: namespaces, actions, packages and bindings,
// triggers, rules, activations and limits, with OpenWhisk's status codes,
// error bodies and JSON shapes. Web actions are served under WebPrefix.
//
// Callers authenticate with HTTP Basic auth using a namespace key
// (uuid:key); Identities keeps only hashes of the keys. Every error reaches
// the client through one function, writeError, as {"error", "code"}.
package api
