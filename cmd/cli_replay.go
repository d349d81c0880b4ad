package gustcmd

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/gusthub/gust/api/client"
)

// triggerReplayLeaf is `gust trigger replay T --since 1h`: the trigger's
// stored events run its rules once more, each as a new trigger activation
// caused by the original's. On a dead-letter trigger (`gust trigger replay
// failures`) the dead letters are redriven: each failed event goes back to
// the rule that failed it. --activation ID replays one event, by the
// trigger activation it was stored as.
func triggerReplayLeaf() leaf {
	var o client.ReplayOptions
	return leaf{use: "replay NAME [--since WHEN]", short: "Run a trigger's stored events through its rules again; redrive its dead letters", minArgs: 1, maxArgs: 1,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&o.Since, "since", "", "replay events stored since `WHEN`: a duration before now (1h, 30m) or an RFC 3339 time (default: all the events kept; try --dry-run first)")
			fs.StringVar(&o.Until, "until", "", "and before `WHEN` (default now)")
			fs.StringVar(&o.Rule, "rule", "", "run only rule `R` of the trigger")
			fs.BoolVar(&o.DryRun, "dry-run", false, "list the events that would be replayed, replay nothing")
			fs.IntVar(&o.Limit, "limit", 0, "replay at most `N` events, the oldest first (0: the server's maximum)")
			fs.StringVar(&o.ActivationID, "activation", "", "replay only the event of trigger activation `ID`")
		},
		run: func(x *call, args []string) error {
			evs, resp, err := x.c.Replay(x.ctx, args[0], o)
			if err != nil {
				return fail(err, "Unable to replay trigger '%s'", args[0])
			}
			return x.show(resp, func() error {
				verb := "replayed"
				if o.DryRun {
					verb = "would replay"
				}
				x.ok("%s %s of %s", verb, quantity(len(evs), "event"), client.Qualify(args[0]))
				for _, e := range evs {
					fmt.Fprintf(x.stdout, "%s  %-32s  %-32s  %s %s", e.Stored.Local().Format(time.DateTime), e.Original, orDash(e.ActivationID), e.Type, e.EventID)
					if e.Rule != "" {
						fmt.Fprintf(x.stdout, "  -> %s rule %s", e.Trigger, e.Rule)
					}
					if e.Skipped != "" {
						fmt.Fprintf(x.stdout, "  skipped: %s", e.Skipped)
					}
					fmt.Fprintln(x.stdout)
				}
				return nil
			})
		}}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
