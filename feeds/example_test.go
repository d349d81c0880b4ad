package feeds_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/feeds"
)

// countdown is a minimal feed provider from outside Gust: it fires its
// trigger "from" times, counting down, then finishes. A real one lives in
// its own package, registers from init with feeds.Register (the example
// uses a registry of its own), and is compiled into a Gust binary by a
// blank import.
type countdown struct {
	from    int64
	subject string
}

// The interface guard: countdown runs on its own (a Feed).
var _ feeds.Feed = (*countdown)(nil)

var countdownProvider = feeds.Provider{
	Package:     "example",
	Name:        "countdown",
	Description: "Fires the trigger a given number of times, counting down.",
	Params: []feeds.Param{
		{Name: "from", Type: feeds.Int, Required: true, Description: "Where to count down from, 1 to 100."},
		{Name: "subject", Type: feeds.String, Default: "countdown", Description: "The events' subject."},
	},
	New: newCountdown,
}

// newCountdown reads the parameters the framework has parsed as declared,
// and checks what their types cannot say.
func newCountdown(cfg feeds.Config) (feeds.Source, error) {
	c := &countdown{from: cfg.Values.Int("from"), subject: cfg.Values.String("subject")}
	if c.from < 1 || c.from > 100 {
		return nil, feeds.Invalid("from", "must be from 1 to 100, not %d", c.from)
	}
	return c, nil
}

// Run emits the events, then returns nil: the feed has finished.
func (c *countdown) Run(ctx context.Context, emit feeds.Emit) error {
	for n := c.from; n > 0; n-- {
		e := event.New()
		e.SetID("countdown-" + strconv.FormatInt(n, 10))
		e.SetSource("/whisk.system/example/countdown")
		e.SetType("com.example.countdown")
		e.SetSubject(c.subject)
		if err := emit(ctx, e); err != nil {
			return fmt.Errorf("emit %s: %w", e.ID(), err)
		}
	}
	return nil
}

// Example_provider registers an outside feed provider and builds and runs
// one instance as the manager would: Build parses and checks the declared
// parameters before New runs.
func Example_provider() {
	reg := feeds.NewRegistry() // in a provider package: feeds.Register from init
	reg.Register(countdownProvider)

	p, _ := reg.Lookup("example/countdown")
	cfg := feeds.Config{Trigger: actions.Name{Namespace: "guest", Name: "t"}, Params: feeds.Params{"from": json.RawMessage(`"3"`)}}
	f, err := p.Build(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = f.(feeds.Feed).Run(context.Background(), func(_ context.Context, e event.Event) error {
		fmt.Println(e.ID(), e.Subject())
		return nil
	})

	_, err = p.Build(feeds.Config{Params: feeds.Params{"from": json.RawMessage(`"many"`)}})
	fmt.Println(err)
	// Output:
	// countdown-3 countdown
	// countdown-2 countdown
	// countdown-1 countdown
	// parameter 'from' must be an integer, not "many"
}
