package procs

import (
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// affinities reads the CPUs of every thread of this process.
func affinities(t *testing.T) map[int]string {
	t.Helper()
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, tid := range tids {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &set); err != nil {
			continue // ended meanwhile
		}
		got[tid] = cpusIn(&set)
	}
	return got
}

// TestPinConfinesEveryThreadAndRestores: Pin(1) puts every thread, and
// those started after it, on the last CPU allowed; restore gives each back
// the CPUs it had.
func TestPinConfinesEveryThreadAndRestores(t *testing.T) {
	var had unix.CPUSet
	if err := unix.SchedGetaffinity(0, &had); err != nil {
		t.Fatal(err)
	}
	allowed := cpuList(&had)
	if len(allowed) < 2 {
		t.Skip("one CPU: nothing to pin to")
	}
	cpus, restore, err := Pin(1)
	if err != nil {
		t.Fatal(err)
	}
	var one unix.CPUSet
	one.Set(allowed[len(allowed)-1])
	want := cpusIn(&one)
	if cpus != want {
		t.Errorf("Pin(1) = %q, want %q", cpus, want)
	}
	// Threads started now, while goroutines hold theirs, inherit the set.
	var wg, locked sync.WaitGroup
	hold := make(chan struct{})
	for range 4 {
		locked.Add(1)
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			locked.Done()
			<-hold
		})
	}
	locked.Wait()
	for tid, got := range affinities(t) {
		if got != want {
			t.Errorf("thread %d runs on %q after Pin, want %q", tid, got, want)
		}
	}
	close(hold)
	wg.Wait()
	restore()
	for tid, got := range affinities(t) {
		if got != cpusIn(&had) {
			t.Errorf("thread %d runs on %q after restore, want %q", tid, got, cpusIn(&had))
		}
	}
	if cpus, _, err := Pin(len(allowed)); err != nil || cpus != "all" {
		t.Errorf("Pin(every CPU) = %q, %v; want all, nothing pinned", cpus, err)
	}
}

func TestCPUsInKeepsTheGaps(t *testing.T) {
	for _, c := range []struct {
		cpus []int
		want string
	}{
		{nil, ""},
		{[]int{1}, "1"},
		{[]int{0, 1, 2, 3}, "0-3"},
		{[]int{0, 1, 2, 3, 6}, "0-3,6"},
		{[]int{0, 2, 4, 5, 70}, "0,2,4-5,70"},
	} {
		var set unix.CPUSet
		for _, cpu := range c.cpus {
			set.Set(cpu)
		}
		if got := cpusIn(&set); got != c.want {
			t.Errorf("cpusIn(%v) = %q, want %q", c.cpus, got, c.want)
		}
	}
}
