// Package actions is Gust's domain model for what runs: actions (their exec
// kinds, limits, parameters, annotations and versions), packages and package
// bindings, the invocations a controller hands an invoker, activation
// records and their trees, the runtime manifest, and the stores that keep
// them in JetStream, with Cache, an in-memory mirror of the actions and
// packages that invokes read. Resolve finds the action a name means for a
// caller, through package bindings.
//
// The JSON form of every type here is OpenWhisk's wire form, so the API can
// serve them as they are.
//
// # Listing activation records
//
// Records are one message each in the stream ActivationsStream, subject
// gust.activations.<ns>.<path>.<id>, written when activations end; an
// action's small parameters, kept for a rerun, travel in a header of the
// message (ActivationStore.PutAsyncKeeping), which reading a record
// ignores. A list
// is newest first by start time, which is not stream order (a long
// activation is stored after shorter ones that started later). A page
// (ActivationStore.List with a Limit) therefore reads the stream
// backwards, no index needed: it reads the last span of sequences, with
// the server filtering the namespace's subjects, then the span before,
// doubling, and stops once it holds Skip+Limit records that started after
// the oldest stamp read (plus a clock skew): every record not read yet was
// stored, so started, before that. Records are decoded only as far as
// their start until the page is known. Each span is one ephemeral consumer
// fetched in batches and deleted; the count of a page comes from the
// server's subject index. A page of 30 of 10,000 records so costs a few
// hundred records read, not 10,000 (BenchmarkActivationList gives the
// ratio to a full scan). Counting with Since or Upto still reads every
// record from Since on.
//
// # Activation trees
//
// BuildTree follows the links the records already hold: a trigger
// record's log lines are JSON, one per rule, naming the rule's action and
// activation id; a sequence record's logs are its components' activation
// ids; each such record has Cause set to its parent. The retries of a
// rule's delivery policy are not in the trigger's record: their ids are
// derived (AttemptIDs, rules.AttemptID), so the tree reads attempt 2, 3…
// while the one before failed. Each link is one read by id, bounded by
// MaxTreeDepth and MaxTreeNodes.
package actions
