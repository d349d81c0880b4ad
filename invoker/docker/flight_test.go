package docker

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// A caller that stops waiting does not cancel the run it started, which
// others wait for; stop cancels it and refuses every run after it.
func TestFlightSharesRunsAndStops(t *testing.T) {
	var f flight
	var once sync.Once
	started := make(chan struct{})
	run := func(ctx context.Context) error {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return ctx.Err()
	}
	gone, leave := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() { left <- f.do(gone, "k", run) }()
	<-started
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = f.do(context.Background(), "k", run) })
	}
	leave()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that left: %v, want canceled", err)
	}
	f.mu.Lock()
	_, running := f.calls["k"]
	f.mu.Unlock()
	if !running {
		t.Error("the run ended with the caller that started it")
	}
	f.stop()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, errStopped) {
			t.Errorf("waiter %d: %v, want the run's cancellation by stop", i, err)
		}
	}
	if err := f.do(context.Background(), "k", run); !errors.Is(err, errStopped) {
		t.Errorf("a run after stop: %v, want %v", err, errStopped)
	}
}
