// Package rules is Gust's domain model for what reacts to events: triggers
// (named event streams with default parameters) and rules (a trigger mapped
// to an action or sequence), and the stores that keep them in JetStream.
//
// As in OpenWhisk, a rule's status (active or inactive) is kept on its
// trigger, so that firing a trigger needs to read one document to know which
// actions to run.
package rules
