package invoker

// WarmKey exposes warmKey to the external tests: benchmarks lease the
// warm container an action's activations use.
var WarmKey = warmKey
