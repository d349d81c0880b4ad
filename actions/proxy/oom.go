package proxy

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// msgMemoryExhausted is OpenWhisk's message for an action the kernel
// killed for its memory.
const msgMemoryExhausted = "The action exhausted its memory and was aborted."

// oomCounters are the files in which the kernel counts the processes of
// the proxy's memory cgroup it killed for memory: cgroup v2, then v1.
var oomCounters = []string{"/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"}

// sacrifice makes the language process pid, and every process it forks,
// the kernel's first choice when the container runs out of memory: the
// proxy, the container's first process, must outlive an action that
// exhausts its memory (a fork bomb's copies each dirty their own pages),
// or the container dies with no answer to say why. Raising the score
// needs no privilege; where /proc refuses, the kernel picks as before.
func sacrifice(pid int) {
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte("1000"), 0)
}

// oomKills returns the kernel's count of out-of-memory kills in the
// proxy's memory cgroup (the container's), and false where it cannot be
// read. The container's engine learns of such a kill only when the whole
// container dies, and the proxy outlives its language process.
func oomKills() (int64, bool) { return counter(oomCounters, "oom_kill ") }

// counter reads the first of files that exists and returns the number on
// its line that starts with prefix; false when none has it.
func counter(files []string, prefix string) (int64, bool) {
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				f.Close()
				return n, err == nil
			}
		}
		f.Close()
	}
	return 0, false
}
