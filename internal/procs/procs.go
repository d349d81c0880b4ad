package procs

import (
	"fmt"
	"os"
	"runtime"
)

// ForServe is the GOMAXPROCS serve chooses when it may use available CPUs:
// half of them, at least one.
func ForServe(available int) int {
	return max(1, available/2)
}

// Choice is a GOMAXPROCS and where it came from, for serve's start line.
type Choice struct {
	N      int
	Source string // "--procs", "GOMAXPROCS" or "half of N CPUs"
}

func (c Choice) String() string { return fmt.Sprintf("%d (%s)", c.N, c.Source) }

// Choose returns serve's GOMAXPROCS: flag when it is positive; else what
// the GOMAXPROCS variable set, when it is set; else ForServe of the CPUs
// the Go runtime found for this process (its affinity and cgroup limit).
func Choose(flag int, getenv func(string) string) Choice {
	current := runtime.GOMAXPROCS(0)
	switch {
	case flag > 0:
		return Choice{N: flag, Source: "--procs"}
	case getenv("GOMAXPROCS") != "":
		return Choice{N: current, Source: "GOMAXPROCS"}
	}
	return Choice{N: ForServe(current), Source: fmt.Sprintf("half of %d CPUs", current)}
}

// Apply sets GOMAXPROCS to c.N and returns a func that restores the value
// it replaced (tests run serve in their own process).
func Apply(c Choice) (restore func()) {
	prev := runtime.GOMAXPROCS(c.N)
	return func() { runtime.GOMAXPROCS(prev) }
}

// AsServe sets the GOMAXPROCS serve would choose without --procs, and
// pins Gust's threads to that many CPUs as --pin-cpus does when
// GUST_PIN_CPUS is true, and returns the func that restores both;
// benchmarks of serve's parts run under it, so that they measure what
// serve runs.
func AsServe() (restore func()) {
	c := Choose(0, os.Getenv)
	unapply := Apply(c)
	if os.Getenv("GUST_PIN_CPUS") != "true" {
		return unapply
	}
	_, unpin, err := Pin(c.N)
	if err != nil {
		fmt.Fprintln(os.Stderr, "GUST_PIN_CPUS: not pinned:", err)
		return unapply
	}
	return func() { unpin(); unapply() }
}
