package invoker

import "sync"

// workers runs functions on goroutines that, once done, wait for the next
// instead of ending, as hub.Consume's workers do: a new goroutine's stack
// starts small and grows by copying (runtime.morestack), which cost a
// blocking call run off the queue (RunNow) 1.75% of gust serve's CPU, and
// a worker keeps its grown stack from one call to the next (the garbage
// collector halves an idle one's, over time). There are as many as ran at
// once.
// The caller orders Go and Wait: no Go while Wait runs.
type workers struct {
	wg   sync.WaitGroup
	idle chan func() // taken by a worker waiting for work; nil before the first Go and after Wait
}

// Go runs f on an idle worker, or a new one.
func (w *workers) Go(f func()) {
	if w.idle == nil {
		w.idle = make(chan func())
	}
	select {
	case w.idle <- f:

	default:
		idle := w.idle
		w.wg.Go(func() {
			for ok := true; ok; f, ok = <-idle {
				f()
			}
		})
	}
}

// Wait waits for the functions at work and ends the workers. Go may be
// called again after it, with new workers.
func (w *workers) Wait() {
	if w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
	w.wg.Wait()
}
