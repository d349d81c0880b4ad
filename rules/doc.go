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
// each rule's filter with its status, and the engine (package rules/engine)
// compiles each distinct filter once.
//
// Also beyond OpenWhisk, a rule may have a delivery policy (Delivery), in
// its annotation "delivery", copied onto the trigger's link the same way:
// the engine then waits for each activation of the rule's action, retries
// developer and internal errors with exponential backoff, and puts a
// DeadLetterType event on the policy's dead-letter trigger when every
// attempt failed. Events carry a hop count (hub.HopsExtension); the engine runs
// no rule for an event over hub.HopLimit, which stops loops.
//
// What became of each event is its Outcome: the engine publishes it on
// core NATS (OutcomeSubject), and Outcomes streams it to the API's event
// streams (gust events tail). A trigger's duplicate window, how long an
// event id fired on it runs nothing again, is its "dedup-window"
// annotation (DedupWindow).
//
// This package is the model only: what the API, the CLI and the feeds
// read and write. The engine that turns trigger events into invocations
// is package rules/engine, which only the composition root (cmd) imports.
package rules
