package invoker

// What this invoker runs, so that an invocation JetStream delivers again
// while it runs is not run a second time, here or on another invoker.
// JetStream redelivers what its consumer's leader saw no acknowledgement
// of within the ack wait: a new consumer leader does so for everything
// pending, heartbeats or not, and an invoker that takes over the home
// queue of one that missed its advertisements gets what that one still
// runs. Only redeliveries ask; a first delivery costs nothing more.

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// runningSubject is where an invoker asks the others whether one of them
// runs an activation: "<asker's queue> <activation id>". Only an invoker
// that runs it answers.
const runningSubject = "gust.invoker.running"

// runningAskWait bounds how long a redelivered invocation waits for an
// answer: only after faults, and the redeliveries of one fault wait
// together.
const runningAskWait = 2 * time.Second

// runningSet is a set of activation ids.
type runningSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

// add adds id and reports whether it was not in the set.
func (s *runningSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	if s.ids == nil {
		s.ids = make(map[string]struct{})
	}
	s.ids[id] = struct{}{}
	return true
}

func (s *runningSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

func (s *runningSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func (s *runningSet) remove(id string) {
	s.mu.Lock()
	delete(s.ids, id)
	s.mu.Unlock()
}

// serveRunning answers the other invokers' questions on runningSubject.
func (iv *Invoker) serveRunning() (*nats.Subscription, error) {
	return iv.nc.Subscribe(runningSubject, func(m *nats.Msg) {
		from, id, ok := strings.Cut(string(m.Data), " ")
		if !ok || from == iv.queue || m.Reply == "" || !iv.running.has(id) {
			return
		}
		_ = m.Respond([]byte(iv.queue))
	})
}

// runningElsewhere reports whether another live invoker says it runs the
// activation id. No answer within runningAskWait means none does.
func (iv *Invoker) runningElsewhere(ctx context.Context, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, runningAskWait)
	defer cancel()
	_, err := iv.nc.RequestWithContext(ctx, runningSubject, []byte(iv.queue+" "+id))
	return err == nil
}
