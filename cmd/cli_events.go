package gustcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gusthub/gust/api/client"
	"github.com/gusthub/gust/internal/backoff"
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
				fmt.Fprintln(x.stderr, "Waiting for events; Ctrl-C stops.")
				for {
					ended, err := printStream(x, st)
					_ = st.Close()
					switch {
					case x.ctx.Err() != nil:
						return nil
					case err != nil:
						return err
					}
					// gust serve restarted or the connection broke: tail on,
					// as tail -F does, rather than leave the user with a
					// dead terminal.
					fmt.Fprintf(x.stderr, "The event stream ended (%v); reconnecting, events meanwhile are not shown ...\n", ended)
					if st, err = reopenEvents(x, trigger); err != nil {
						if x.ctx.Err() != nil {
							return nil
						}
						return fail(err, "%s", what)
					}
					fmt.Fprintln(x.stderr, "Reconnected; waiting for events.")
				}
			}})
	cmd.Aliases = []string{"event"}
	return cmd
}

// printStream prints the lines of st until it ends: ended says why the
// stream ended (the server closed it, the connection broke), err is a
// failure to print.
func printStream(x *call, st *client.EventStream) (ended, err error) {
	for {
		line, err := st.Next()
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("the server ended it"), nil
		case err != nil:
			return err, nil
		case x.flags.json:
			_, err = fmt.Fprintf(x.stdout, "%s\n", line)
		default:
			err = printOutcome(x.stdout, line)
		}
		if err != nil {
			return nil, err
		}
	}
}

// reopenEvents opens the event stream of trigger again, trying while no
// server answers (one restarting); an answer that refuses (the trigger
// was deleted, the key revoked) ends the tail.
func reopenEvents(x *call, trigger string) (*client.EventStream, error) {
	pause := backoff.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for {
		st, err := x.c.Events(x.ctx, trigger)
		var refused *client.Error
		if err == nil || errors.As(err, &refused) {
			return st, err
		}
		if !backoff.Wait(x.ctx, pause.Next()) {
			return nil, x.ctx.Err()
		}
	}
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
		_, err := fmt.Fprintf(w, "! %s not shown: the stream fell behind\n", quantity(o.Dropped, "event"))
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
