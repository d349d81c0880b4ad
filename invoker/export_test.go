package invoker

import "time"

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

// RunningLeases counts the leases the pool's containers take as running,
// for tests that check none is left behind.
func (p *Pool) RunningLeases() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, cs := range p.warm {
		for _, c := range cs {
			n += len(c.running)
		}
	}
	return n
}

// SetTook says how long l's activation ran in its container, as the
// invoker does from the proxy's answer.
func (l *Lease) SetTook(d time.Duration) { l.took = d }

// RunTime is the mean run time the pool keeps for key's line.
func (p *Pool) RunTime(key string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.lines[key]; l != nil {
		return l.run
	}
	return p.runs[key]
}
