package gustcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// lifecycle holds the long-running components of `gust serve` in the
// order they started. A component either runs (Run(ctx) error, added with
// run) or is closed (New + Close, added with closer). wait returns when
// ctx ends or a component fails; stop then stops every component in
// reverse order of start, each only after the ones started after it
// have returned.
type lifecycle struct {
	log    *slog.Logger
	parts  []*part
	failed chan error // the first component that failed; buffered
}

// part is one component.
type part struct {
	name   string
	cancel context.CancelFunc // run: stops it
	done   chan struct{}      // run: closed when it returned
	close  func() error       // closer
}

func newLifecycle(log *slog.Logger) *lifecycle {
	return &lifecycle{log: log, failed: make(chan error, 1)}
}

// run starts fn as component name. fn must return nil once its context
// ends; returning before, with an error or without, fails the lifecycle
// with that reason.
func (l *lifecycle) run(ctx context.Context, name string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx)) // stopped by stop, in order
	p := &part{name: name, cancel: cancel, done: make(chan struct{})}
	l.parts = append(l.parts, p)
	go func() {
		defer close(p.done)
		err := fn(ctx)
		if ctx.Err() != nil {
			if err != nil && !errors.Is(err, context.Canceled) {
				l.log.Warn("component stopped with an error", "component", name, "err", err)
			}
			return
		}
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		select {
		case l.failed <- fmt.Errorf("%s: %w", name, err):
		default: // another failed first
		}
	}()
}

// closer adds a component that stop closes.
func (l *lifecycle) closer(name string, fn func() error) {
	l.parts = append(l.parts, &part{name: name, close: fn})
}

// wait blocks until ctx ends (nil) or a component fails (its error).
func (l *lifecycle) wait(ctx context.Context) error {
	select {
	case err := <-l.failed:
		return err
	case <-ctx.Done():
		return nil
	}
}

// stop stops the components in reverse order of start and waits for each.
func (l *lifecycle) stop() {
	for i := len(l.parts) - 1; i >= 0; i-- {
		p := l.parts[i]
		if p.close != nil {
			if err := p.close(); err != nil {
				l.log.Warn("component close", "component", p.name, "err", err)
			}
			continue
		}
		p.cancel()
		<-p.done
	}
	l.parts = nil
}
