package proxy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// pidsEvents and pidsMax are the pids controller's files of the proxy's
// cgroup (the container's): the count of forks refused at the limit, and
// the limit; cgroup v2, then v1.
var (
	pidsEvents = []string{"/sys/fs/cgroup/pids.events", "/sys/fs/cgroup/pids/pids.events"}
	pidsMax    = []string{"/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"}
)

// pidsHits returns how many times the kernel refused a fork or a thread in
// the proxy's cgroup because of its pids limit, and false where it cannot
// be read. A refused fork is only an EAGAIN to the action, which it may
// report as anything or not at all.
func pidsHits() (int64, bool) { return counter(pidsEvents, "max ") }

// pidsLimit is the pids limit of the proxy's cgroup, "" when unknown.
func pidsLimit() string {
	for _, path := range pidsMax {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

// msgPidsLimit says that the action hit its process limit, and which.
func msgPidsLimit(limit string) string {
	if limit == "" {
		return "The action hit its process limit."
	}
	return fmt.Sprintf("The action hit its process limit (pids %s).", limit)
}

// withPidsLimit is the answer of a run during which the kernel refused
// forks at the pids limit limit: an "error" string (the action failed, or
// reported a failure) says first that it hit the limit, since the action's
// own words are at best "Resource temporarily unavailable". Any other
// answer stays as it is.
func withPidsLimit(answer []byte, limit string) []byte {
	var m map[string]json.RawMessage
	var text string
	if json.Unmarshal(answer, &m) != nil || json.Unmarshal(m["error"], &text) != nil {
		return answer
	}
	m["error"], _ = json.Marshal(strings.TrimSpace(msgPidsLimit(limit) + " " + text))
	b, err := json.Marshal(m)
	if err != nil {
		return answer
	}
	return b
}
