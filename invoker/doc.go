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
// Containers come from a Sandbox, an interface this package declares and
// invoker/docker and invoker/process implement.
package invoker
