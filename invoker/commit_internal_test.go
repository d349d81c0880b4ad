package invoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
)

// runCommitter starts a committer of an invoker that has taken ids, and
// returns it with a function that stops it and waits for it to end.
func runCommitter(t *testing.T, ids ...string) (*Invoker, *committer, func()) {
	t.Helper()
	iv := &Invoker{log: slog.New(slog.DiscardHandler)}
	for _, id := range ids {
		iv.running.add(id)
	}
	c := newCommitter(iv)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { c.run(context.Background(), stop); close(done) }()
	return iv, c, func() {
		close(stop)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the committer did not stop")
		}
	}
}

// waitAcked waits until the invoker no longer holds id (the committer's
// ack removes it) and reports whether it did in time.
func waitAcked(iv *Invoker, id string, within time.Duration) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if !iv.running.has(id) {
			return true
		}
	}
	return false
}

// TestCommitterDoesNotHoldRecordsBehindOneWrittenAgain: a record whose
// first write failed is written again (here, a write that takes until the
// test lets it end) while the records finished after it are acknowledged
// as soon as they are stored.
func TestCommitterDoesNotHoldRecordsBehindOneWrittenAgain(t *testing.T) {
	iv, c, stop := runCommitter(t, "slow", "next")
	release := make(chan struct{})
	var wrote atomic.Int32
	c.add(finished{inv: &actions.Invocation{ActivationID: "slow"}, stored: actions.NewPending(errors.New("no ack"), func(ctx context.Context) error {
		wrote.Add(1)
		<-release
		return nil
	})})
	c.add(finished{inv: &actions.Invocation{ActivationID: "next"}, stored: actions.Settled(nil)})
	if !waitAcked(iv, "next", 5*time.Second) {
		t.Fatal("the record finished after one written again was not acknowledged until that write ended")
	}
	if !iv.running.has("slow") {
		t.Fatal("the record written again was acknowledged before its write ended")
	}
	close(release)
	if !waitAcked(iv, "slow", 5*time.Second) {
		t.Fatal("the record written again was not acknowledged once its write ended")
	}
	if n := wrote.Load(); n != 1 {
		t.Errorf("the record was written again %d times, want once", n)
	}
	stop()
}

// TestCommitterWritesAFewAgainAtOnce: records to write again go to at most
// maxSlowWriters goroutines; past those, the committer waits for one to
// end, and stopping waits for all of them.
func TestCommitterWritesAFewAgainAtOnce(t *testing.T) {
	const n = maxSlowWriters + 4
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint("r", i)
	}
	iv, c, stop := runCommitter(t, ids...)
	release := make(chan struct{})
	var mu sync.Mutex
	at, most := 0, 0
	for _, id := range ids {
		c.add(finished{inv: &actions.Invocation{ActivationID: id}, stored: actions.NewPending(errors.New("no ack"), func(ctx context.Context) error {
			mu.Lock()
			at++
			most = max(most, at)
			mu.Unlock()
			<-release
			mu.Lock()
			at--
			mu.Unlock()
			return nil
		})})
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		busy := at
		mu.Unlock()
		if busy == maxSlowWriters {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records written again at once, want %d", busy, maxSlowWriters)
		}
	}
	time.Sleep(50 * time.Millisecond) // room for a writer too many to start
	close(release)
	stop()
	if most != maxSlowWriters {
		t.Errorf("at most %d records written again at once, want %d", most, maxSlowWriters)
	}
	if left := iv.running.len(); left != 0 {
		t.Errorf("%d records not acknowledged when the committer stopped", left)
	}
}

// TestCommitterAcksARecordLostForGoodAtOnce: a record whose storing ended
// for good (one that could not be encoded) is logged and its invocation
// acknowledged at once, not tried again for recordRoomWait.
func TestCommitterAcksARecordLostForGoodAtOnce(t *testing.T) {
	iv, c, stop := runCommitter(t, "lost")
	c.add(finished{inv: &actions.Invocation{ActivationID: "lost"}, stored: actions.Settled(errors.New("encode activation: bad result"))})
	if !waitAcked(iv, "lost", 10*time.Second) {
		t.Fatalf("a record lost for good was not acknowledged in 10 s (tried again for %v)", recordRoomWait)
	}
	stop()
}
