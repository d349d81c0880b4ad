// Package rules is Gust's domain model for what reacts to events: triggers
// (named event streams with default parameters) and rules (a trigger mapped
// to an action or sequence), and the stores that keep them in JetStream.
//
// As in OpenWhisk, a rule's status (active or inactive) is kept on its
// trigger, so that firing a trigger needs to read one document to know which
// actions to run.
//
// Beyond OpenWhisk, a rule may have a Filter, in its annotation "filter":
// the CloudEvents Subscriptions API dialects (exact, prefix, suffix, all,
// any, not) over attributes and extensions, CESQL (sql), and, as an
// extension, data.<path> fields of JSON data. The trigger keeps a copy of
// each rule's filter with its status, and the Engine compiles each distinct
// filter once.
package rules
