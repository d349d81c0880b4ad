package procs

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxPinPasses bounds the passes over the process's threads: a pass that
// finds no thread it has not pinned ends it, and threads started after
// that inherit the pinned set from the thread that starts them.
const maxPinPasses = 20

// Pin confines every thread of this process to n of the CPUs it may run
// on (the last n: CPU 0 takes more of the machine's interrupts), and
// returns them, in the form of cpusIn, with a func that gives every thread
// back the CPUs it had. With n at least the CPUs allowed, it pins nothing
// and returns "all".
//
// Why: Go's scheduler moves goroutines between threads, and Linux moves
// those threads between CPUs, each move cold in the new CPU's caches; on a
// machine shared with action containers, Gust's threads then also run on
// the CPUs the containers need. Pinned, Gust keeps to its own CPUs and the
// containers' processes keep theirs (README.md, "Performance").
func Pin(n int) (cpus string, restore func(), err error) {
	var had unix.CPUSet
	if err := unix.SchedGetaffinity(0, &had); err != nil {
		return "", nil, fmt.Errorf("read this process's CPUs: %w", err)
	}
	allowed := cpuList(&had)
	if n <= 0 || n >= len(allowed) {
		return "all", func() {}, nil
	}
	var set unix.CPUSet
	for _, c := range allowed[len(allowed)-n:] {
		set.Set(c)
	}
	if err := setEveryThread(&set); err != nil {
		_ = setEveryThread(&had)
		return "", nil, err
	}
	return cpusIn(&set), func() { _ = setEveryThread(&had) }, nil
}

// setEveryThread sets the affinity of every thread of the process to set,
// passing over /proc/self/task until a pass finds no new thread.
func setEveryThread(set *unix.CPUSet) error {
	done := map[int]bool{}
	for range maxPinPasses {
		tids, err := threads()
		if err != nil {
			return err
		}
		fresh := false
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			fresh = true
			// A thread that ended meanwhile is not an error.
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("set the CPUs of thread %d: %w", tid, err)
			}
			done[tid] = true
		}
		if !fresh {
			return nil
		}
	}
	return fmt.Errorf("set this process's CPUs: threads kept starting through %d passes", maxPinPasses)
}

// threads lists the ids of this process's threads.
func threads() ([]int, error) {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("list this process's threads: %w", err)
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// cpuList lists the CPUs in set, in order.
func cpuList(set *unix.CPUSet) []int {
	var cpus []int
	for c := 0; c < len(set)*64 && len(cpus) < set.Count(); c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// cpusIn writes the CPUs in set as Linux lists them (cpuset(7)): ranges and
// single CPUs, comma-separated, with the gaps kept: "0-3,6".
func cpusIn(set *unix.CPUSet) string {
	cpus := cpuList(set)
	out := ""
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if out != "" {
			out += ","
		}
		out += strconv.Itoa(cpus[i])
		if j > i {
			out += "-" + strconv.Itoa(cpus[j])
		}
		i = j + 1
	}
	return out
}
