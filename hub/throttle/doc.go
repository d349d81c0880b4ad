// Package throttle enforces OpenWhisk's per-namespace throttles
// (invocationsPerMinute, concurrentInvocations, firesPerMinute) across every
// process of a Gust deployment, counting in JetStream key-value buckets so
// that the counts hold when the API roles are split over machines.
//
// Rates count in fixed one-minute windows, as OpenWhisk's RateThrottler:
// one key per namespace, kind and epoch minute in a bucket whose entries
// expire after two minutes. A process reserves tokens from the shared count
// with an atomic compare-and-set (Create, or Update at the read revision)
// and spends them locally. Far from the limit it reserves a small batch
// (a sixteenth of what is left, at most 32), so most requests touch no
// bucket; near the limit it reserves one at a time, so that the limit is
// exact. A process that goes quiet holding a batch strands at most that
// batch for the rest of its minute.
//
// Concurrency counts activations in flight per namespace in another
// bucket: an admitted invocation takes a slot (compare-and-set increment)
// and whoever finishes it gives the slot back (Release), whichever process
// that is. Entries of that bucket expire after InflightTTL without change,
// so that slots lost to a process that died between admission and queueing
// do not block a namespace for ever.
//
// Every change starts from the count and revision the process last saw,
// so it is one compare-and-set while no other process changed the count,
// and a read and a retry when one did. BenchmarkThrottle compares both
// paths with one KV update measured in the same run.
//
// Limits holds the limits the admin set per namespace (SetLimits sets and
// removes them); a namespace without its own, or one whose own was removed,
// uses the deployment's defaults, and a zero default is no limit. A
// process reads a namespace's limits again after 2 s, so a change made
// through one API server holds in the others within 2 s.
package throttle
