package invoker

// WarmKey exposes warmKey to the external tests: benchmarks lease the
// warm container an action's activations use.
var WarmKey = warmKey

// InvokeConsumer is the shared queue's durable consumer, which tests take
// an invocation from, as an invoker that dies would.
const InvokeConsumer = invokeConsumer

// MaxQueuedRun exposes maxQueuedRun: a pool test runs longer.
const MaxQueuedRun = maxQueuedRun

// RunningSubject is where invokers ask whether another runs an activation.
const RunningSubject = runningSubject
