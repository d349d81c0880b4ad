package workers

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
	"time"
)

// goroutineID is the running goroutine's number, from its stack's header.
func goroutineID() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	return string(bytes.Fields(b)[1])
}

func TestGroupReusesIdleGoroutines(t *testing.T) {
	var w Group
	started := 0
	var mu sync.Mutex
	seen := map[string]bool{}
	for range 50 {
		w.Go(func() {
			mu.Lock()
			if id := goroutineID(); !seen[id] {
				seen[id] = true
				started++
			}
			mu.Unlock()
		})
		time.Sleep(5 * time.Millisecond) // each finishes before the next comes
	}
	w.Wait()
	// A worker descheduled before it waits again lets the next call start
	// another: a few on a busy machine, not one for each call.
	if started > 10 {
		t.Errorf("50 functions run one after another took %d goroutines, want them reused (at most 10)", started)
	}
}

func TestGroupWaitsForWorkAndEnds(t *testing.T) {
	before := runtime.NumGoroutine()
	var w Group
	release := make(chan struct{})
	var done sync.WaitGroup
	for range 4 {
		done.Add(1)
		w.Go(func() { <-release; done.Done() })
	}
	waited := make(chan struct{})
	go func() { w.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while functions were at work")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return once the work was done")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Wait, %d before: workers left running", n, before)
	}
	ran := make(chan struct{})
	w.Go(func() { close(ran) }) // usable again after Wait
	<-ran
	w.Wait()
}
