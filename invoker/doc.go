// Package invoker runs actions: it keeps a pool of warm containers per
// namespace and action version, pre-warmed stem cells per runtime kind, and
// executes activations in them through the OpenWhisk action protocol
// (/init, /run), collecting logs and writing activation records.
//
// The Invoker (invoker.go, exec.go, logs.go) consumes the hub's invocation
// queue (hub/invocations.go, through hub.Consume; the controller's side,
// which fills it and runs sequences, is package dispatch) and runs each
// activation in a container of the Pool, or in Go for a built-in action
// (builtin.go); its committer (commit.go) acknowledges the invocations
// once their records are stored, many at a time. A blocking call of this
// process's API whose action has a container warm and free here does not
// take the queue: the dispatcher hands it over (RunNow), and it runs and is
// recorded as a queued one is, with nothing to acknowledge. So does a
// rule's activation that the rule engine reserves (Reserve) on a container
// warm here, free or, on one machine, busy: it waits in the container's
// line as a queued one would, and the engine starts it once its event's
// writes are stored. The Pool's files split its work: pool.go acquires and
// releases warm containers, pool_line.go queues the requests that must
// wait and starts containers for them, pool_stem.go keeps the stem cells,
// pool_idle.go pauses and removes idle containers, poolview.go answers,
// over NATS, what the pool holds (dispatch.PoolView asks).
//
// Bursts (pool_line.go). An activation that finds no free warm container
// of its key waits in the key's line and takes whichever container frees
// first: a warm one finishing its activation, or a new one coming up
// (the first activation on a new container runs its /init; with
// intra-container concurrency, the next ones join it). Containers are
// created in the background on behalf of the line, not of one activation,
// and how many is decided by the line's demand, as OpenWhisk's FPC
// scheduler does: W activations waiting on S slots drain in about
// W·run/S, so the line adds containers while that exceeds a horizon h,
// never more than its waiters can use, within the pool's memory. The
// horizon is the cold start time (create and /init, a moving average by
// image, else over all images): a container started for a line that
// drains sooner would come up too late to serve it. Once a line has
// lasted a cold start since its key had a warm container, it is a lasting
// load, not a burst, and h becomes 100 ms (FPC's stale threshold), so an
// I/O-bound action under many concurrent requests scales out to the
// pool's memory. The run time is the key's moving average of how long its
// runs took in their containers, as Gust's proxy says with each answer
// (proxy.RunTimeHeader; else how long they held their containers, which
// also counts how long the answers waited for a busy invoker to read
// them). It is raised to how long the oldest running activation has run
// so far once that is longer than a cold start and than 100 ms (how late
// a busy invoker may read an answer), or while no average is known (a
// timer looks again when that alone would call for a container): an
// action known to be fast that slows down is seen through the average, a
// run or two later, until its runs outlast both.
// While neither time nor the cold start is known, the line starts one
// container and learns from it (the run time outlives the key's
// containers, for its next burst). So 50 invokes at once of a no-op run
// on one container, and so does a burst of a thousand fired events, and
// an action sleeping 200 ms on as many as fit. A line short of memory
// waits its turn in the pool's room line; a container freed while
// another key's earlier line waits for memory
// is evicted for it rather than serving its own key's later activations.
//
// Queued runs (pool.go, exec.go). A burst of an action that runs one
// activation at a time in Gust's proxy and whose runs are short (25 ms on
// average at most) keeps up to two more activations queued at each busy
// container's proxy (proxy.QueueHeader), so that the action starts the
// next as soon as the one ahead ends, without a round trip through the
// invoker in between. A queued activation's time limit starts when the
// proxy starts it (its 102), its logs come with its own answer. The run of
// the activation that took the container is sent queued too, as the lead
// (proxy.LeadHeader): it starts at once, with no 102, unless one queued
// behind it reached the proxy first (another connection); then the proxy
// says it waits, and it starts after them as a queued one. None
// queues behind an activation that is resuming a paused container. When the
// one ahead leaves no process to run it, the proxy says it never ran, and
// it runs elsewhere (after three such turns, it waits for a container of
// its own); a container that failed with activations queued behind it
// keeps its memory and is destroyed once they are back.
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
// again, nor one that this or another live invoker still runs (running.go:
// a new consumer leader redelivers all that is pending). A record store
// that cannot say whether the record exists (its stream electing a
// leader) is asked again until it can, the invocation kept alive
// meanwhile; it is never run on a guess. When an invoker
// dies, its home consumer outlives it (an hour of
// inactivity): the others notice that it no longer advertises itself and
// drain its home queue, and what it had taken without finishing comes back
// to them after the ack wait. The queue is trimmed below the lowest ack
// floor of the consumers that still hold something (queueFloor).
//
// Containers come from a Sandbox, an interface this package declares and
// invoker/docker and invoker/process implement.
package invoker
