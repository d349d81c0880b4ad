package proxy

import (
	"os"
	"testing"
)

// TestMakeSpareThreads: the threads stay, idle, for the runtime to reuse.
func TestMakeSpareThreads(t *testing.T) {
	makeSpareThreads(spareThreads)
	if n := threads(t); n < spareThreads {
		t.Errorf("%d threads after making %d spare ones", n, spareThreads)
	}
	n := threads(t)
	makeSpareThreads(spareThreads)
	// Not reused, they would be spareThreads more; the runtime may start a
	// thread or two meanwhile for other work (CI saw 2).
	if again := threads(t); again >= n+spareThreads/2 {
		t.Errorf("making spare threads again went from %d to %d threads: the idle ones were not reused", n, again)
	}
}

// threads counts the OS threads of this process.
func threads(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return len(tasks)
}
