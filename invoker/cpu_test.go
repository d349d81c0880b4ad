package invoker_test

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuUse adds up the CPU time that stretches of a benchmark cost: the test
// process's own (Gust's components and the embedded NATS server) and that
// of one Docker container (the action's proxy and language process), read
// from its cgroup. Throughput alone hides where a cost moved: CPU per
// operation shows it, and varies less between runs on a busy machine.
type cpuUse struct {
	container  string // a Docker container ID, or "" for none
	proc, cont time.Duration
	contOK     bool // every stretch could read the container's cgroup

	profile string     // where measure writes a CPU profile of each stretch, if set
	b       *testing.B // whose profile it is
}

// profiles numbers the profiles that cpuUse.measure writes, so that no
// stretch overwrites another's.
var profiles atomic.Int64

// newCPUUse adds up CPU time with containerID's (which may be "").
func newCPUUse(containerID string) *cpuUse {
	return &cpuUse{container: containerID, contOK: containerID != ""}
}

// profiled makes measure write a CPU profile of each stretch, with neither
// the set-up nor the floor's stretches in it, when GUST_BENCH_PROFILE names
// a file prefix: to prefix.<benchmark>.1, .2, ... (`go tool pprof` merges
// the profiles it is given together).
func (u *cpuUse) profiled(b *testing.B) *cpuUse {
	if prefix := os.Getenv("GUST_BENCH_PROFILE"); prefix != "" {
		u.profile = prefix + "." + strings.NewReplacer("/", "-", "=", "").Replace(b.Name())
		u.b = b
	}
	return u
}

// measure runs f and adds the CPU time it took.
func (u *cpuUse) measure(f func()) {
	if u.profile != "" {
		stop, err := startProfile(fmt.Sprintf("%s.%d", u.profile, profiles.Add(1)))
		if err != nil {
			u.b.Fatal(err)
		}
		defer stop()
	}
	p0 := processCPU()
	c0, ok0 := containerCPU(u.container)
	f()
	u.proc += processCPU() - p0
	c1, ok1 := containerCPU(u.container)
	if ok0 && ok1 {
		u.cont += c1 - c0
	} else {
		u.contOK = false
	}
}

// report reports the CPU time measured per each of n ops, as
// prefix+"proc-cpu-µs/"+op and, when the container's cgroup could be read,
// prefix+"container-cpu-µs/"+op.
func (u *cpuUse) report(b *testing.B, prefix string, n int, op string) {
	b.ReportMetric(float64(u.proc.Microseconds())/float64(n), prefix+"proc-cpu-µs/"+op)
	if u.contOK {
		b.ReportMetric(float64(u.cont.Microseconds())/float64(n), prefix+"container-cpu-µs/"+op)
	}
}

// startProfile starts a CPU profile written to name.
func startProfile(name string) (stop func(), err error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// processCPU is the user and system CPU time of the test process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// containerCPU is the CPU time of Docker container id so far, from its
// cgroup (v1 or v2 with the cgroupfs or systemd driver); false when it
// cannot be read.
func containerCPU(id string) (time.Duration, bool) {
	if id == "" {
		return 0, false
	}
	for _, p := range []string{
		"/sys/fs/cgroup/cpuacct/docker/" + id + "/cpuacct.usage",
		"/sys/fs/cgroup/cpu,cpuacct/docker/" + id + "/cpuacct.usage",
		"/sys/fs/cgroup/cpuacct/system.slice/docker-" + id + ".scope/cpuacct.usage",
	} {
		if b, err := os.ReadFile(p); err == nil {
			if ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
				return time.Duration(ns), true
			}
		}
	}
	for _, p := range []string{
		"/sys/fs/cgroup/docker/" + id + "/cpu.stat",
		"/sys/fs/cgroup/system.slice/docker-" + id + ".scope/cpu.stat",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				if us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					return time.Duration(us) * time.Microsecond, true
				}
			}
		}
	}
	return 0, false
}
