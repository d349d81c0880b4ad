package invoker

import (
	"fmt"
	"sync"
	"time"
)

// Sentinel is the line an action proxy writes on stdout and on stderr after
// every activation, so that the invoker knows the activation's logs are
// complete.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// logTimeLayout is OpenWhisk's log timestamp: RFC 3339 with nanoseconds,
// always 30 characters.
const logTimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatLogLine formats a line as OpenWhisk's activation logs show it.
func FormatLogLine(l LogLine) string {
	return l.Time.UTC().Format(logTimeLayout) + " " + l.Stream + ": " + l.Text
}

// Messages appended to logs, OpenWhisk's.
const (
	logFailureMessage = "There was an issue while collecting your logs. Data might be missing."
)

func truncatedLogsMessage(limit int) string {
	return fmt.Sprintf("Logs were truncated because the total bytes size exceeds the limit of %d bytes.", limit)
}

// logCollector drains a container's output for its whole life and hands
// the lines between two pairs of sentinels to the activation collecting
// them. Lines written while no activation collects are dropped.
type logCollector struct {
	mu  sync.Mutex
	cur *logSession
}

// logSession gathers one activation's log lines.
type logSession struct {
	lines     []string
	bytes     int
	limit     int
	truncated bool
	ended     [2]bool // stdout, stderr sentinels seen
	done      chan struct{}
}

func newLogCollector(lines <-chan LogLine) *logCollector {
	lc := &logCollector{}
	go lc.drain(lines) // ends when the container's streams end
	return lc
}

func (lc *logCollector) drain(lines <-chan LogLine) {
	for l := range lines {
		lc.mu.Lock()
		if s := lc.cur; s != nil {
			if s.add(l) {
				lc.cur = nil
			}
		}
		lc.mu.Unlock()
	}
	lc.mu.Lock()
	if s := lc.cur; s != nil {
		close(s.done)
		lc.cur = nil
	}
	lc.mu.Unlock()
}

// begin starts collecting for one activation, keeping up to limit bytes.
func (lc *logCollector) begin(limit int) *logSession {
	s := &logSession{limit: limit, done: make(chan struct{})}
	lc.mu.Lock()
	if old := lc.cur; old != nil {
		close(old.done)
	}
	lc.cur = s
	lc.mu.Unlock()
	return s
}

// add takes one line; it reports true when both sentinels have arrived.
func (s *logSession) add(l LogLine) bool {
	if l.Text == Sentinel {
		if l.Stream == "stderr" {
			s.ended[1] = true
		} else {
			s.ended[0] = true
		}
		if s.ended[0] && s.ended[1] {
			close(s.done)
			return true
		}
		return false
	}
	if s.truncated {
		return false
	}
	line := FormatLogLine(l)
	if s.bytes+len(l.Text) > s.limit {
		s.truncated = true
		return false
	}
	s.bytes += len(l.Text)
	s.lines = append(s.lines, line)
	return false
}

// drop stops collecting for s without waiting for its sentinels.
func (lc *logCollector) drop(s *logSession) {
	lc.mu.Lock()
	if lc.cur == s {
		lc.cur = nil
	}
	lc.mu.Unlock()
}

// end waits up to wait for the sentinels and returns the lines, with
// OpenWhisk's notes when they were cut or did not end properly.
func (lc *logCollector) end(s *logSession, wait time.Duration) []string {
	t := time.NewTimer(wait)
	defer t.Stop()
	complete := true
	select {
	case <-s.done:
	case <-t.C:
		complete = false
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.cur == s {
		lc.cur = nil
	}
	out := s.lines
	if s.truncated {
		out = append(out, truncatedLogsMessage(s.limit))
	}
	if !complete || !(s.ended[0] && s.ended[1]) {
		out = append(out, logFailureMessage)
	}
	return out
}
