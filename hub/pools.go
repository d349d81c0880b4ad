package hub

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// The invokers answer questions about their pools on core NATS, for the
// controllers (dispatch.PoolView) and the console: the warm containers they
// keep for a namespace, on PoolSubject(ns), and the runtime images they are
// building, on BuildingSubject.
const (
	PoolSubjectPrefix = "gust.pool."
	BuildingSubject   = "gust.runtimes.building"
)

// PoolSubject is where invokers answer what warm containers they keep for
// namespace ns.
func PoolSubject(ns string) string { return PoolSubjectPrefix + EncodeToken(ns) }

// ContainerInfo describes one warm container of an invoker's pool, as
// the console shows it.
type ContainerInfo struct {
	// Action is the full name of the action the container runs
	// ("/ns/pkg/name"), Version its version.
	Action  string `json:"action"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
	// MemoryMB is the container's memory limit.
	MemoryMB int `json:"memoryMB"`
	// State is "starting" (before /init ends), "busy", "idle" or "paused".
	State string `json:"state"`
	// Active is how many activations it runs now.
	Active int `json:"active"`
	// LastUsed is when its last activation ended (or began).
	LastUsed time.Time `json:"lastUsed"`
}

// SortContainers orders containers by action, then the most recently used
// first.
func SortContainers(cs []ContainerInfo) {
	slices.SortFunc(cs, func(a, b ContainerInfo) int {
		return cmp.Or(strings.Compare(a.Action, b.Action), b.LastUsed.Compare(a.LastUsed))
	})
}
