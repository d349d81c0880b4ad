package hub

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Heartbeat tells JetStream, every interval, that a message is still being
// worked on (InProgress), so that it is not delivered again after its
// consumer's AckWait, from a timer that starts no goroutine until it
// fires. Stop ends it.
type Heartbeat struct {
	mu   sync.Mutex
	done bool
	t    *time.Timer
}

// StartHeartbeat starts msg's heartbeat, every interval: a third of its
// consumer's AckWait leaves room for two lost ones.
func StartHeartbeat(msg jetstream.Msg, interval time.Duration) *Heartbeat {
	h := &Heartbeat{}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.t = time.AfterFunc(interval, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if !h.done {
			_ = msg.InProgress()
			h.t.Reset(interval)
		}
	})
	return h
}

// Stop ends the heartbeat; no InProgress is sent after it returns.
func (h *Heartbeat) Stop() {
	h.mu.Lock()
	h.done = true
	h.t.Stop()
	h.mu.Unlock()
}
