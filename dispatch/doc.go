// Package dispatch is the controller's side of invocations: the Dispatcher
// puts them on the hub's invocation queue (hub/invocations.go), wakes
// blocking callers when their record is announced on gust.done.<id> (or
// handed over by an invoker of the same process, Deliver), and runs
// sequences itself, component by component (sequence.go), storing their
// records.
//
// A blocking call through the API (Call) skips the queue when this
// process's invoker has a container of the action warm and free
// (LocalRunner, invoker.Invoker.RunNow): the activation runs there at once,
// and the queue's write, delivery and acknowledgement are saved. The queue
// is for what must outlive this process or be placed elsewhere: a
// non-blocking invoke, a rule's activation (but see below), a call that
// would wait for a container here. Sequences run their components the same way, whoever
// started the sequence (a blocking call, a non-blocking one, a rule): the
// dispatcher runs the sequence and waits for each component in this
// process, so a crash ends it either way.
//
// A rule's activation skips the queue the same way (Reserve) when this
// process is the only Gust process (no other engine takes its event, no
// other invoker could run it) and its invoker has a container of the
// action warm, free now or busy: the rule engine starts it once its
// event's writes are stored, and acknowledges the event, which stands for
// the invocation, once the record is stored.
//
// Parameters too large for the queue's message travel by reference: the
// Dispatcher stores them (hub.StoreParams), the invoker reads them right
// before the action runs.
//
// Placement on a cluster (placement.go): every invoker advertises its load
// (hub.Advertise: slots, activations in flight, warm containers by action)
// and consumes the shared queue gust.invocation.<ns> as well as its own
// home queue gust.invocation.home.<q>.<ns>. With two invokers or more, the
// Dispatcher sends an invocation to the home queue of the invoker that
// keeps the most warm containers of its action, else to its home invoker
// by rendezvous hashing of the action over the invokers (OpenWhisk's home
// invoker; the loss of one invoker moves only its own actions), skipping
// invokers whose slots are all busy (by the advert, or by the Dispatcher's
// own sends since: a blocking one until it completes, others until the
// next refresh of the adverts); when every invoker is busy, to the shared
// queue (overflow). So one action's invocations land where its
// containers are warm instead of cold-starting on every invoker.
//
// PoolView (poolview.go) asks the invokers, over NATS, what warm
// containers they keep and which runtime images they build, for the API.
//
// The package does not import the container pool (package invoker), so
// that a controller need not link it.
package dispatch
