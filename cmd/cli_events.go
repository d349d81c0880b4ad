package gustcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gusthub/gust/rules"
)

func init() { cliCommands = append(cliCommands, newEventsCmd) }

func newEventsCmd(e *env) *cobra.Command {
	cmd := group(e, "events", "Watch trigger events and what the rules did with them; send events", true, eventSend(),
		leaf{use: "tail [TRIGGER]", short: "Print the events of the namespace's triggers (or of one) as they come, with what each rule did, until interrupted", maxArgs: 1,
			run: func(x *call, args []string) error {
				trigger, what := "", "Unable to tail events"
				if len(args) == 1 {
					trigger, what = args[0], fmt.Sprintf("Unable to tail events of trigger '%s'", args[0])
				}
				st, err := x.c.Events(x.ctx, trigger)
				if err != nil {
					return fail(err, "%s", what)
				}
				defer st.Close()
				fmt.Fprintln(x.stderr, "Waiting for events; Ctrl-C stops.")
				for {
					line, err := st.Next()
					switch {
					case x.ctx.Err() != nil:
						return nil
					case errors.Is(err, io.EOF):
						return fail(errors.New("the server ended the event stream"), "%s", what)
					case err != nil:
						return fail(err, "%s", what)
					case x.flags.json:
						_, err = fmt.Fprintf(x.stdout, "%s\n", line)
					default:
						err = printOutcome(x.stdout, line)
					}
					if err != nil {
						return err
					}
				}
			}})
	cmd.Aliases = []string{"event"}
	return cmd
}

// tailLine is one line of an event stream: an outcome, a followup (Result
// set), or a notice that Dropped outcomes were lost.
type tailLine struct {
	rules.Outcome
	Result  *rules.Result `json:"result"`
	Dropped int           `json:"dropped"`
}

// printOutcome prints an outcome as a block: the time, trigger and event,
// then a line per rule; or a followup as one line.
func printOutcome(w io.Writer, line []byte) error {
	var o tailLine
	if err := json.Unmarshal(line, &o); err != nil {
		return fmt.Errorf("undecodable line of the event stream: %w", err)
	}
	if o.Dropped > 0 {
		_, err := fmt.Fprintf(w, "! %d events not shown: the stream fell behind\n", o.Dropped)
		return err
	}
	if o.Result != nil {
		return printResult(w, o.Time, o.Trigger, o.Result)
	}
	fmt.Fprintf(w, "%s %s %s from %s, id %s\n", o.Time.Local().Format("2006-01-02 15:04:05.000"), o.Trigger, o.Event.Type, o.Event.Source, o.Event.ID)
	if len(o.Rules) == 0 {
		fmt.Fprintln(w, "  (no rules)")
	}
	for _, r := range o.Rules {
		switch r.Outcome {
		case rules.OutcomeActivated: // its Result follows when it ends
			fmt.Fprintf(w, "  … %s → %s %s\n", r.Rule, r.Action, r.ActivationID)
		case rules.OutcomeFiltered:
			fmt.Fprintf(w, "  – %s filtered out\n", r.Rule)
		case rules.OutcomeFailed:
			fmt.Fprintf(w, "  ✗ %s failed: %s\n", r.Rule, r.Error)
		default: // inactive
			fmt.Fprintf(w, "  – %s %s\n", r.Rule, r.Outcome)
		}
	}
	if o.TriggerActivationID == "" { // an API fire answered 204
		fmt.Fprintln(w, "  nothing ran and nothing was recorded: the trigger has no active rule")
	}
	_, err := fmt.Fprintln(w)
	return err
}

// printResult prints one line of how an activation of a rule of trigger
// ended: ✓ success, ✗ a failure (with the dead-letter hand-off after the
// last attempt), ↻ a failed attempt that is tried again, ? unknown.
func printResult(w io.Writer, at time.Time, trigger string, r *rules.Result) error {
	mark, what := "✗", r.Status
	switch {
	case r.Status == "success":
		mark = "✓"
	case r.Retry != "":
		mark = "↻"
	case r.Status == "" && r.Error == "":
		mark, what = "?", "finished; its record was too large to announce: gust activation get "+r.ActivationID
	}
	if r.Error != "" && r.Error != r.Status {
		what = strings.TrimPrefix(what+": "+r.Error, ": ")
	}
	if r.Attempt > 0 {
		what = fmt.Sprintf("attempt %d %s", r.Attempt, what)
	}
	switch {
	case r.Retry != "":
		what += fmt.Sprintf("; retry in %v as %s", time.Duration(r.RetryIn)*time.Millisecond, r.Retry)
	case r.DeadLetter != "":
		what += "; dead-lettered to " + r.DeadLetter
	}
	_, err := fmt.Fprintf(w, "%s %s %s %s → %s %s %s\n", at.Local().Format("2006-01-02 15:04:05.000"), trigger, mark, r.Rule, r.Action, r.ActivationID, what)
	return err
}
