package gustcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api/client"
)

func init() { cliCommands = append(cliCommands, newActivationCmd) }

// activationStatus are the Status column's words, by status code, as wsk's.
var activationStatus = [...]string{"success", "application error", "developer error", "internal error"}

// activationRow is a row of wsk's activation list; p colors the duration,
// cold or warm, and the status (padding is added before colors, so the
// columns line up either way).
func activationRow(a actions.Activation, p painter) string {
	kind, ok := a.Annotations.String("kind")
	if !ok {
		kind = "unknown"
	}
	d := time.Duration(a.Duration) * time.Millisecond
	start := p.paint(colorGreen, "warm ")
	duration := p.paint(durationColor(d), fmt.Sprintf("%-10v", d))
	switch {
	case a.IsTrigger():
		// A trigger activation is a stored event: nothing started, cold
		// or warm, and it took no time of its own.
		kind, start, duration = "trigger", "-    ", "-         "
	case a.Annotations.IsTrue(actions.NoContainerAnnotation):
		start = "-    " // it failed before it got a container
	case a.Annotations.Has("initTime"):
		start = p.paint(colorYellow, "cold ")
	}
	status := activationStatus[len(activationStatus)-1]
	if a.StatusCode >= 0 && a.StatusCode < len(activationStatus) {
		status = activationStatus[a.StatusCode]
	}
	statusColor := colorRed
	if a.StatusCode == actions.StatusSuccess {
		statusColor = colorGreen
	}
	// Widths fit the longest words: builtin:feed, application error.
	return fmt.Sprintf("%s %s %-12s %s %s %s %s/%s:%s",
		time.UnixMilli(a.Start).Format(time.DateTime), a.ActivationID, kind, start,
		duration, p.paint(statusColor, fmt.Sprintf("%-17s", status)),
		a.Namespace, a.Name, a.Version)
}

// durationColor grades a duration: dim under 100 ms, plain under a
// second, yellow under ten, red beyond.
func durationColor(d time.Duration) string {
	switch {
	case d < 100*time.Millisecond:
		return colorDim
	case d < time.Second:
		return ""
	case d < 10*time.Second:
		return colorYellow
	}
	return colorRed
}

// activationHeader is the header of wsk's activation list.
const activationHeader = "Datetime            Activation ID                    Kind         Start Duration   Status            Entity"

// pollInterval is how often activation poll asks for new activations.
const pollInterval = 2 * time.Second

// lastFlag is --last of activation get, logs and result: with it, ID is
// optional and names an action to take the last activation of.
type lastFlag struct{ last bool }

func (l *lastFlag) register(fs *pflag.FlagSet) {
	fs.BoolVarP(&l.last, "last", "l", false, "use the most recent activation (of the action named by the argument, if any)")
}

// id resolves the activation id argument, or with --last the most recent
// activation's.
func (l *lastFlag) id(x *call, args []string) (string, error) {
	if !l.last {
		if len(args) != 1 {
			return "", usageError(errors.New("an activation ID is required (or --last)"))
		}
		return args[0], nil
	}
	o := client.ActivationListOptions{Limit: 1}
	if len(args) == 1 {
		o.Name = args[0]
	}
	list, _, err := x.c.ListActivations(x.ctx, o)
	if err != nil {
		return "", fail(err, "Unable to get the last activation")
	}
	if len(list) == 0 {
		return "", &exitError{code: exitGeneral, err: errors.New("activation list does not contain any activations")}
	}
	return list[0].ActivationID, nil
}

// activationLeaf is activation get, logs or result: fetch and show the
// activation that args or --last name.
func activationLeaf(use, short string, show func(x *call, id string) error, flags ...func(*pflag.FlagSet)) leaf {
	var l lastFlag
	return leaf{use: use + " [ID]", short: short, maxArgs: 1,
		flags: func(fs *pflag.FlagSet) {
			l.register(fs)
			for _, f := range flags {
				f(fs)
			}
		},
		run: func(x *call, args []string) error {
			id, err := l.id(x, args)
			if err != nil {
				return err
			}
			return show(x, id)
		}}
}

func newActivationCmd(e *env) *cobra.Command {
	var list client.ActivationListOptions
	var tree bool
	var rerun client.InvokeOptions
	var poll struct {
		exit     int
		interval time.Duration
	}
	return group(e, "activation", "Work with activations", true,
		leaf{use: "list [NAME]", short: "List activations, newest first", maxArgs: 1,
			flags: func(fs *pflag.FlagSet) {
				fs.IntVarP(&list.Limit, "limit", "l", 30, "list at most `N` activations (0: the server's maximum)")
				fs.IntVarP(&list.Skip, "skip", "s", 0, "skip the first `N` activations")
				fs.Int64Var(&list.Since, "since", 0, "only activations that started at or after `EPOCH_MS`")
				fs.Int64Var(&list.Upto, "upto", 0, "only activations that started at or before `EPOCH_MS`")
			},
			run: func(x *call, args []string) error {
				if len(args) == 1 {
					list.Name = args[0]
				}
				all, resp, err := x.c.ListActivations(x.ctx, list)
				if err != nil {
					return fail(err, "Unable to obtain the list of activations for namespace 'default'")
				}
				return x.show(resp, func() error {
					p := painter{on: useColor(x.stdout, x.getenv)}
					fmt.Fprintln(x.stdout, activationHeader)
					for _, a := range all {
						fmt.Fprintln(x.stdout, activationRow(a, p))
					}
					return nil
				})
			}},
		activationLeaf("get", "Get an activation (--tree: with every activation it caused)", func(x *call, id string) error {
			if tree {
				return x.activationTree(id)
			}
			_, resp, err := x.c.GetActivation(x.ctx, id)
			if err != nil {
				return fail(err, "Unable to get activation '%s'", id)
			}
			return x.show(resp, func() error {
				x.ok("got activation %s", id)
				return x.pretty(resp.Body)
			})
		}, func(fs *pflag.FlagSet) {
			fs.BoolVar(&tree, "tree", false, "show the activation with every rule, action and sequence component it caused, as a tree")
		}),
		activationLeaf("logs", "Print an activation's logs", func(x *call, id string) error {
			logs, resp, err := x.c.ActivationLogs(x.ctx, id)
			if err != nil {
				return fail(err, "Unable to get logs for activation '%s'", id)
			}
			return x.show(resp, func() error {
				for _, l := range logs {
					fmt.Fprintln(x.stdout, l)
				}
				return nil
			})
		}),
		activationLeaf("result", "Print an activation's result", func(x *call, id string) error {
			r, resp, err := x.c.GetActivationResult(x.ctx, id)
			if err != nil {
				return fail(err, "Unable to get result for activation '%s'", id)
			}
			return x.show(resp, func() error {
				if len(r.Result) == 0 {
					return x.pretty([]byte("{}"))
				}
				return x.pretty(r.Result)
			})
		}),
		activationLeaf("rerun", "Invoke an activation's action again with the same parameters", func(x *call, id string) error {
			if rerun.Result {
				rerun.Blocking = true
			}
			resp, err := x.c.Rerun(x.ctx, id, rerun)
			var actErr *client.ActivationError
			if err != nil && !errors.As(err, &actErr) {
				return fail(err, "Unable to rerun activation '%s'", id)
			}
			if perr := x.show(resp, func() error {
				if rerun.Result && resp.StatusCode != http.StatusAccepted {
					return x.prettySorted(resp.Body)
				}
				x.ok("reran activation %s with id %s", id, resp.Header.Get("x-openwhisk-activation-id"))
				if resp.StatusCode == http.StatusAccepted {
					return nil
				}
				return x.prettySorted(resp.Body)
			}); perr != nil {
				return perr
			}
			if err != nil { // the action failed: shown above, exit non-zero
				return quietly(fail(err, "Unable to rerun activation '%s'", id))
			}
			return nil
		}, func(fs *pflag.FlagSet) {
			fs.BoolVarP(&rerun.Blocking, "blocking", "b", false, "wait for the new activation and print it")
			fs.BoolVarP(&rerun.Result, "result", "r", false, "wait and print only the result (implies --blocking)")
		}),
		leaf{use: "poll [NAME]", short: "Print the logs of new activations as they come", maxArgs: 1,
			flags: func(fs *pflag.FlagSet) {
				fs.IntVarP(&poll.exit, "exit", "e", 0, "stop after `SECONDS` (0: at Ctrl-C)")
				fs.DurationVar(&poll.interval, "interval", pollInterval, "how often to ask for new activations")
				_ = fs.MarkHidden("interval")
			},
			run: func(x *call, args []string) error {
				name := ""
				if len(args) == 1 {
					name = args[0]
				}
				return x.poll(name, time.Duration(poll.exit)*time.Second, poll.interval)
			}},
	)
}

// poll prints, as wsk does, the logs of each activation started since it
// began, until ctx ends or, with exit > 0, exit has passed.
func (x *call) poll(name string, exit, interval time.Duration) error {
	ctx := x.ctx
	if exit > 0 {
		var cancel func()
		ctx, cancel = context.WithTimeout(ctx, exit)
		defer cancel()
	}
	if !x.flags.json {
		fmt.Fprint(x.stdout, "Enter Ctrl-c to exit.\nPolling for activation logs\n")
	}
	since := time.Now().UnixMilli()
	seen := map[string]bool{}
	lost := false // the last poll found nobody answering
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		list, _, err := x.c.ListActivations(ctx, client.ActivationListOptions{Name: name, Since: since, Docs: true})
		if ctx.Err() != nil {
			return nil
		}
		var refused *client.Error
		switch {
		case err != nil && errors.As(err, &refused):
			return fail(err, "Unable to poll for activations")
		case err != nil:
			// Nobody answers (gust serve restarting): poll on, as tail -F.
			if !lost {
				fmt.Fprintf(x.stderr, "Gust does not answer (%v); polling on ...\n", err)
			}
			lost = true
		case lost:
			fmt.Fprintln(x.stderr, "Gust answers again.")
			lost = false
		}
		for i := len(list) - 1; i >= 0; i-- { // oldest first
			a := list[i]
			if seen[a.ActivationID] {
				continue
			}
			seen[a.ActivationID] = true
			if err := x.pollShow(a); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// pollShow prints one polled activation: with --json one line of JSON,
// else wsk's "Activation: 'name' (id)" and the logs.
func (x *call) pollShow(a actions.Activation) error {
	if x.flags.json {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return x.raw(b)
	}
	fmt.Fprintf(x.stdout, "\nActivation: '%s' (%s)\n", a.Name, a.ActivationID)
	logs := a.Logs
	if logs == nil {
		logs = []string{}
	}
	b, err := json.Marshal(logs)
	if err != nil {
		return err
	}
	return x.pretty(b)
}

// activationTree prints the tree of activation id: JSON with --json, else
// indented, in color on a terminal.
func (x *call) activationTree(id string) error {
	t, resp, err := x.c.ActivationTree(x.ctx, id)
	if err != nil {
		return fail(err, "Unable to get the tree of activation '%s'", id)
	}
	return x.show(resp, func() error {
		writeTree(x.stdout, t, painter{on: useColor(x.stdout, x.getenv)})
		return nil
	})
}
