package proxy

import (
	"runtime"
	"sync"
)

// spareThreads is how many OS threads the proxy makes before an action
// runs. Its goroutines block in a few system calls at once (the language
// process's wait, cgroup files, logs); a few threads cover them.
const spareThreads = 8

// makeSpareThreads starts n OS threads and leaves them idle. The Go runtime
// keeps an idle thread for reuse and aborts the whole program when the
// kernel refuses it a new one; a fork bomb holds the container at its pids
// limit, where the proxy, its first process, must still answer the /run
// that says so.
func makeSpareThreads(n int) {
	var locked, done sync.WaitGroup
	release := make(chan struct{})
	for range n {
		locked.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			// A goroutine locked to its thread has it to itself: the
			// others, waiting, each need one more.
			runtime.LockOSThread()
			locked.Done()
			<-release
			// Unlocked, the thread outlives the goroutine.
			runtime.UnlockOSThread()
		}()
	}
	locked.Wait()
	close(release)
	done.Wait()
}
