// Package hub is Gust's event mesh: it runs the embedded NATS server with
// JetStream (or connects to an external NATS), and gives the other packages
// their storage and streams on it.
//
// All of Gust's state lives in JetStream: key-value buckets hold entities
// (through Collection), an object store holds large action code, and streams
// carry events, invocations and activation records. Components talk to each
// other only through NATS subjects, so roles can split across processes that
// share one NATS.
//
// Besides the storage, hub holds what every producer and consumer of events
// shares: the CloudEvent ⇄ NATS message codec and subject names (events.go),
// the envelope rules of Gust's own extensions, such as the hop counter
// (envelope.go), in-memory mirrors of a bucket that a watch keeps up to
// date (Mirror, Follower), and the worker loop of a JetStream consumer
// (Consume), and group commit of writes (Batch: many messages published at
// once and confirmed together). The invocation queue's stream and subjects
// (invocations.go) are shared by the dispatchers that fill it and the
// invokers that empty it, as are the subjects and the container type of
// the invokers' answers about their pools (pools.go). It also reads stored events back:
// Publisher.Replay puts them on their trigger again, EventRetention purges
// each namespace's past its retention, and RerunParams keeps activations'
// parameters for reruns (small ones on their records' messages,
// RerunParamsHeader).
//
// On a cluster (ClusterOptions, or an external NATS) every stream, bucket
// and object store gets the hub's replication (Options.Replicas), and
// provisioning, reads, fetches and publishes ride through a leader
// election, or a route not known yet, by trying again for a few seconds
// (replicas.go, Unavailable).
// Every Gust process advertises its role and load in a members bucket
// (Advertise, Members; presence.go), and Status describes the cluster.
// EventIDs remembers the events the rule engine took, for each trigger's
// duplicate window (dedup.go); CheckSpace says when to refuse new writes,
// before the data directory's disk runs out (space.go); TraceParent
// carries an event's W3C trace context (trace.go).
//
// Data too large for a message goes through object stores: an event's
// (dataref.go) and an invocation's parameters (params.go). The embedded
// server's MQTT listener (mqtt.go) lets devices publish to Gust; they reach
// it through a gate that bounds each connection's rate and message size
// (mqttgate.go).
package hub
