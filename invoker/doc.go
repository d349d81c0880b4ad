// Package invoker runs actions: it keeps a pool of warm containers per
// namespace and action version, pre-warmed stem cells per runtime kind, and
// executes activations in them through the OpenWhisk action protocol
// (/init, /run), collecting logs and writing activation records.
//
// The Invoker (invoker.go, exec.go, logs.go) consumes the hub's invocation
// queue (hub/invocations.go, through hub.Consume; the controller's side,
// which fills it and runs sequences, is package dispatch) and runs each
// activation in a container of the Pool, or in Go for a built-in action
// (builtin.go). The Pool's files split its work: pool.go acquires and
// releases warm containers and queues the requests that must wait,
// pool_stem.go keeps the stem cells, pool_idle.go pauses and removes idle
// containers, poolview.go reports what the pool holds.
//
// Parameters too large for the queue's message travel by reference: the
// dispatcher stores them (hub.StoreParams), the Invoker reads them right
// before the action runs and deletes them once its record is stored.
//
// Placement on a cluster (placement.go, and package dispatch for the
// choice). Every invoker advertises its load (hub.Advertise) and consumes
// two queues of the one GUST_INVOCATIONS stream: the shared queue
// gust.invocation.<ns> (durable consumer "invokers", which every invoker
// pulls from) and its own home queue gust.invocation.home.<q>.<ns>
// (durable consumer home-<q>), where dispatchers send the invocations of
// the actions it keeps warm or is the home invoker of.
//
// Exactly once is unchanged: an invocation stays on its queue until its
// record is stored, and a redelivered one whose record exists is not run
// again. When an invoker dies, its home consumer outlives it (an hour of
// inactivity): the others notice that it no longer advertises itself and
// drain its home queue, and what it had taken without finishing comes back
// to them after the ack wait. The queue is trimmed below the lowest ack
// floor of the consumers that still hold something (queueFloor).
//
// Containers come from a Sandbox, an interface this package declares and
// invoker/docker and invoker/process implement.
package invoker
