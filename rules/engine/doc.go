// Package engine is Gust's rule engine: it consumes the hub's event stream
// durably and, for every active rule of an event's trigger whose filter
// matches, queues an invocation of the rule's action, then records the
// trigger's activation with one log line per rule (OpenWhisk's shape) and
// publishes the event's rules.Outcome on core NATS (with
// SkipUnheardOutcomes, only when a subscriber would hear it).
//
// It also keeps what the rules model asks of it: the dedup window of event
// ids (hub.EventIDs), the hop limit, and the delivery policies of rules
// (retries with backoff, then a rules.DeadLetterType event, each attempt's
// end published as a rules.Followup after the outcome), and it mirrors
// the trigger and action buckets in memory while it runs. The model it
// reads (triggers, rules, filters, delivery policies, outcomes) is package
// rules; only the composition root imports this one.
//
// Events are taken in batches (hub.ConsumeBatches), which grow under load:
// a batch reads its triggers and actions through one revision barrier of
// the mirrors, stores the duplicate-window claims of its events together,
// then their invocations and trigger records together (hub.Batch, a group
// commit), and acknowledges each event once its own writes are stored.
//
// A rule whose action has a container warm on the invoker of this
// process, the only Gust process, runs there instead of taking the queue
// (LocalRunner, dispatch.Dispatcher.Reserve): reserved while the batch is
// planned (at most 500 wait in the line of busy containers), started once
// the event's other writes are stored, given up if they failed. Its event
// is then acknowledged only once the action's record is stored (or lost
// for good, as a queued invocation is then acknowledged), and JetStream is
// told meanwhile that it is worked on: the event stands for the invocation
// the queue would have kept. A run the invoker gave up before it started,
// because it stops, is queued instead. A redelivered event (its process
// died) runs no rule whose record is stored, waits for one that still runs
// here, and queues the others: an earlier delivery may have queued them,
// and only the queue drops the duplicate. This saves a fire the queue's
// write, delivery and acknowledgement.
//
// Feed events over their namespace's firesPerMinute (SetThrottle) are not
// dropped: they go back to the stream, unacknowledged, until the next
// minute. While they wait they count against the consumer's pending
// messages (1000), so a feed flooding far over its limit delays the events
// of other namespaces until it drains; a stream per namespace would not.
package engine
