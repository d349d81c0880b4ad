package workers

import "sync"

// Group runs functions on workers that keep their grown stacks from one
// function to the next (the garbage collector halves an idle one's, over
// time); there are as many as ran at once. The zero Group is ready. The
// caller orders Go and Wait: no Go while Wait runs.
type Group struct {
	wg   sync.WaitGroup
	idle chan func() // taken by a worker waiting for work; nil before the first Go and after Wait
}

// Go runs f on an idle worker, or a new one.
func (g *Group) Go(f func()) {
	if g.idle == nil {
		g.idle = make(chan func())
	}
	select {
	case g.idle <- f:
	default:
		idle := g.idle
		g.wg.Go(func() {
			for ok := true; ok; f, ok = <-idle {
				f()
			}
		})
	}
}

// Wait waits for the functions at work and ends the workers. Go may be
// called again after it, with new workers.
func (g *Group) Wait() {
	if g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.wg.Wait()
}
