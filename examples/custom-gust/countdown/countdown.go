// Package countdown is a feed provider from outside Gust: compiled into a
// gust binary by a blank import, it is the feed action
// /whisk.system/countdown/countdown, which fires its trigger "from" times,
// counting down, then finishes.
package countdown

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
)

func init() {
	feeds.Register(Provider)
}

// Provider is the countdown feed.
var Provider = feeds.Provider{
	Package:     "countdown",
	Name:        "countdown",
	Description: "Fires the trigger a given number of times, counting down, one event per interval.",
	Params: []feeds.Param{
		{Name: "from", Type: feeds.Int, Required: true, Description: "Where to count down from, 1 to 100."},
		{Name: "interval", Type: feeds.Duration, Default: 100 * time.Millisecond, Description: "The pause between two events, e.g. 1s. Default 100ms."},
	},
	New: newCountdown,
}

// countdown is one instance.
type countdown struct {
	cfg      feeds.Config
	from     int64
	interval time.Duration
}

var _ feeds.Feed = (*countdown)(nil)

// newCountdown reads the parameters the framework has parsed as declared,
// and checks what their types cannot.
func newCountdown(cfg feeds.Config) (feeds.Source, error) {
	c := &countdown{cfg: cfg, from: cfg.Values.Int("from"), interval: cfg.Values.Duration("interval")}
	if c.from < 1 || c.from > 100 {
		return nil, feeds.Invalid("from", "must be from 1 to 100, not %d", c.from)
	}
	if c.interval <= 0 {
		return nil, feeds.Invalid("interval", "must be above 0, not %v", c.interval)
	}
	return c, nil
}

// Run fires the events, then returns nil: the feed has finished. A
// restarted instance counts down again; the event ids (trigger and count)
// let the trigger drop what it already had.
func (c *countdown) Run(ctx context.Context, emit feeds.Emit) error {
	for n := c.from; n > 0; n-- {
		e := event.New()
		e.SetID(c.cfg.Trigger.String() + "#" + strconv.FormatInt(n, 10))
		e.SetSource("/whisk.system/countdown/countdown")
		e.SetType("com.example.countdown")
		if err := e.SetData(event.ApplicationJSON, map[string]int64{"n": n}); err != nil {
			return err
		}
		if err := emit(ctx, e); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fire %d: %w", n, err)
		}
		t := time.NewTimer(c.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	return nil
}
