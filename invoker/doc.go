// Package invoker runs actions: it keeps a pool of warm containers per
// namespace and action version, pre-warmed stem cells per runtime kind, and
// executes activations in them through the OpenWhisk action protocol
// (/init, /run), collecting logs and writing activation records.
//
// It holds both sides of an invocation today. The controller's side is the
// Dispatcher (invoker.go, sequence.go): it queues invocations on the work
// queue (queue.go), wakes blocking callers when their record is announced,
// and runs sequences component by component. The invoker's side is the
// Invoker (invoker.go, exec.go, logs.go), which consumes the queue
// (hub.Consume) and runs each activation in a container of the Pool, or in
// Go for a built-in action (builtin.go). The Pool's files split its work:
// pool.go acquires and releases warm containers and queues the requests
// that must wait, pool_stem.go keeps the stem cells, pool_idle.go pauses
// and removes idle containers, poolview.go reports what the pool holds.
//
// Parameters too large for the queue's message travel by reference: the
// Dispatcher stores them (hub.StoreParams), the Invoker reads them right
// before the action runs and deletes them once its record is stored.
//
// Placement on a cluster (placement.go). Every invoker advertises its load
// (hub.Advertise: slots, activations in flight, warm containers by action)
// and consumes two queues of the one GUST_INVOCATIONS stream: the shared
// queue gust.invocation.<ns> (durable consumer "invokers", which every
// invoker pulls from) and its own home queue gust.invocation.home.<q>.<ns>
// (durable consumer home-<q>). With two invokers or more, the Dispatcher
// sends an invocation to the home queue of the invoker that keeps the most
// warm containers of its action, else to its home invoker by rendezvous
// hashing of the action over the invokers (OpenWhisk's home invoker; the
// loss of one invoker moves only its own actions), skipping invokers whose
// slots are all busy; when every invoker is busy, to the shared queue
// (overflow). So one action's invocations land where its containers are
// warm instead of cold-starting on every invoker.
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
