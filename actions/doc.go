// Package actions is Gust's domain model for what runs: actions (their exec
// kinds, limits, parameters, annotations and versions), packages and package
// bindings, activation records, the runtime manifest, and the stores that
// keep them in JetStream.
//
// The JSON form of every type here is OpenWhisk's wire form, so the API can
// serve them as they are.
package actions
