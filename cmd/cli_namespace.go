package gustcmd

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/api/client"
)

func init() {
	cliCommands = append(cliCommands, newNamespaceCmd, newListCmd, newPropertyCmd)
}

func newNamespaceCmd(e *env) *cobra.Command {
	var adminAuth string
	var set client.NamespaceLimits
	var clearLimits []string
	var limitFlags *pflag.FlagSet
	var keep struct {
		events string
		reset  bool
	}
	return group(e, "namespace", "Work with namespaces", true,
		leaf{use: "retention [NAME]", short: "Show or set how long a namespace's trigger events are kept for replays", maxArgs: 1,
			flags: func(fs *pflag.FlagSet) {
				fs.StringVar(&keep.events, "events", "", "keep events for `DURATION` (e.g. 72h; 1h to 720h)")
				fs.BoolVar(&keep.reset, "default", false, "go back to the default (168h)")
			},
			run: func(x *call, args []string) error {
				ns := "_"
				if len(args) == 1 {
					ns = args[0]
				}
				r, resp, err := x.c.Retention(x.ctx, ns)
				if keep.events != "" || keep.reset {
					r, resp, err = x.c.SetRetention(x.ctx, ns, keep.events)
				}
				if err != nil {
					return fail(err, "Unable to obtain the retention of namespace '%s'", ns)
				}
				return x.show(resp, func() error {
					if keep.events != "" || keep.reset {
						x.ok("updated the retention of namespace %s", cmp.Or(r.Namespace, ns)) // an older server names none
					}
					note := ""
					if r.Default {
						note = " (default)"
					}
					fmt.Fprintf(x.stdout, "events %s%s\n", r.Events, note)
					return nil
				})
			}},
		leaf{use: "list", short: "List the namespaces of the key", maxArgs: 0,
			run: func(x *call, _ []string) error {
				all, resp, err := x.c.Namespaces(x.ctx)
				if err != nil {
					return fail(err, "Unable to obtain the list of available namespaces")
				}
				return x.show(resp, func() error {
					fmt.Fprintln(x.stdout, "namespaces")
					for _, ns := range all {
						fmt.Fprintln(x.stdout, ns)
					}
					return nil
				})
			}},
		leaf{use: "get [NAMESPACE]", short: "List the entities of the namespace", maxArgs: 1,
			run: func(x *call, args []string) error {
				ns := "default"
				if len(args) == 1 {
					ns = args[0]
				}
				return x.listAll(ns)
			}},
		leaf{use: "create NAME", short: "Create a namespace and a key for it (needs the admin key)", minArgs: 1, maxArgs: 1,
			flags: func(fs *pflag.FlagSet) {
				adminAuthFlag(fs, &adminAuth)
			},
			run: func(x *call, args []string) error {
				if err := x.connectAdmin(adminAuth); err != nil {
					return err
				}
				k, resp, err := x.c.CreateNamespace(x.ctx, args[0])
				if err != nil {
					return fail(err, "Unable to create namespace '%s'", args[0])
				}
				return x.show(resp, func() error {
					x.ok("created namespace %s", k.Namespace)
					fmt.Fprintf(x.stdout, "key: %s\n", k.Auth)
					fmt.Fprintf(x.stdout, "Use it with `gust property set --auth %s`, or %s=%s.\n", k.Auth, envAuth, k.Auth)
					return nil
				})
			}},
		leaf{use: "limits NAME", short: "Show, set or remove the throttles of a namespace (needs the admin key)", minArgs: 1, maxArgs: 1,
			flags: func(fs *pflag.FlagSet) {
				adminAuthFlag(fs, &adminAuth)
				for _, lim := range namespaceLimits {
					fs.IntVar(lim.field(&set), lim.flag, 0, lim.usage)
				}
				fs.StringSliceVar(&clearLimits, "clear", nil, "remove the namespace's own `LIMIT`, so that the deployment's default holds again: "+
					"invocations-per-minute, concurrent, fires-per-minute or all (repeatable, or a comma list)")
				limitFlags = fs
			},
			run: func(x *call, args []string) error {
				remove, err := checkLimitsChange(limitFlags, set, clearLimits)
				if err != nil {
					return err
				}
				if err := x.connectAdmin(adminAuth); err != nil {
					return err
				}
				ns := args[0]
				changing := set != (client.NamespaceLimits{}) || len(remove) > 0
				before, resp, err := x.c.Limits(x.ctx, ns)
				if err != nil {
					return fail(err, "Unable to obtain the limits of namespace '%s'", ns)
				}
				l := before
				if changing {
					if l, resp, err = x.c.SetLimits(x.ctx, ns, set, remove...); err != nil {
						return fail(err, "Unable to update the limits of namespace '%s'", ns)
					}
				}
				return x.show(resp, func() error {
					if changing {
						x.ok("updated the limits of namespace %s: %s", ns, limitsChanges(set, remove))
					}
					for _, lim := range namespaceLimits {
						now, was := *lim.field(l), *lim.field(before)
						line := fmt.Sprintf("%-22s %s", lim.name, limitText(now))
						if now != was {
							line += " (was " + limitText(was) + ")"
						}
						fmt.Fprintln(x.stdout, line)
					}
					return nil
				})
			}},
	)
}

// namespaceLimit is one throttle of `gust namespace limits`: the flag that
// sets it, its name in the API and in the table, and its field.
type namespaceLimit struct {
	flag, name, usage string
	field             func(*client.NamespaceLimits) *int
}

var namespaceLimits = []namespaceLimit{
	{"invocations-per-minute", "invocationsPerMinute", "invokes the namespace may make in a minute",
		func(l *client.NamespaceLimits) *int { return &l.InvocationsPerMinute }},
	{"concurrent", "concurrentInvocations", "activations the namespace may have in flight",
		func(l *client.NamespaceLimits) *int { return &l.ConcurrentInvocations }},
	{"fires-per-minute", "firesPerMinute", "trigger fires the namespace may make in a minute",
		func(l *client.NamespaceLimits) *int { return &l.FiresPerMinute }},
}

// checkLimitsChange checks the limits flags fs got: each limit set is a
// positive integer (0 is refused, not taken for "no limit": in OpenWhisk
// it blocks the namespace, and here removing a limit gives the default
// back, which may be a limit), and clearNames names limits, by flag or API
// name, or all, none of them also set. It returns the API names to remove.
func checkLimitsChange(fs *pflag.FlagSet, set client.NamespaceLimits, clearNames []string) ([]string, error) {
	for _, lim := range namespaceLimits {
		if v := *lim.field(&set); fs.Changed(lim.flag) && v <= 0 {
			return nil, usageError(fmt.Errorf("--%s %d: a limit is a positive integer; to remove the namespace's own, so that the deployment's default holds again, use --clear %s",
				lim.flag, v, lim.flag))
		}
	}
	var remove []string
	for _, c := range clearNames {
		matched := false
		for _, lim := range namespaceLimits {
			if c != "all" && c != lim.flag && c != lim.name {
				continue
			}
			matched = true
			if fs.Changed(lim.flag) {
				return nil, usageError(fmt.Errorf("--%s and --clear %s: a limit is either set or removed", lim.flag, c))
			}
			if !slices.Contains(remove, lim.name) {
				remove = append(remove, lim.name)
			}
		}
		if !matched {
			return nil, usageError(fmt.Errorf("--clear %s: no such limit; name invocations-per-minute, concurrent, fires-per-minute or all", c))
		}
	}
	return remove, nil
}

// limitsChanges says what set and remove change, in the order of the table.
func limitsChanges(set client.NamespaceLimits, remove []string) string {
	var said []string
	for _, lim := range namespaceLimits {
		switch v := *lim.field(&set); {
		case v > 0:
			said = append(said, fmt.Sprintf("%s set to %d", lim.name, v))
		case slices.Contains(remove, lim.name):
			said = append(said, lim.name+" back to the deployment's default")
		}
	}
	return strings.Join(said, ", ")
}

// limitText is a limit as the table shows it.
func limitText(v int) string {
	if v > 0 {
		return fmt.Sprint(v)
	}
	return "no limit"
}

// adminAuthFlag adds --admin-auth to a command that needs the admin key.
func adminAuthFlag(fs *pflag.FlagSet, v *string) {
	fs.StringVar(v, "admin-auth", "", "admin key (env "+envAdminAuth+"; default from the config file)")
}

// connectAdmin connects with the admin key: the flag's, else the
// environment's or the config file's.
func (x *call) connectAdmin(flag string) error {
	s, err := x.settings(flag)
	if err != nil {
		return err
	}
	if s.adminAuth == "" {
		return &exitError{code: exitGeneral, err: errors.New("no admin key configured: run `gust serve` on this machine, or set " + envAdminAuth + " (or pass --admin-auth)")}
	}
	return x.connect(s.adminAuth)
}

func newListCmd(e *env) *cobra.Command {
	return standalone(e, leaf{use: "list", short: "List all entities of the namespace", maxArgs: 0,
		run: func(x *call, _ []string) error { return x.listAll("default") }})
}

// listAll is wsk list: the namespace's packages, actions, triggers and
// rules, each rule read for its status.
func (x *call) listAll(ns string) error {
	all := client.ListOptions{}
	what := "Unable to obtain the list of entities for namespace '" + ns + "'"
	acts, actsResp, err := x.c.Actions.List(x.ctx, all)
	if err != nil {
		return fail(err, "%s", what)
	}
	pkgs, pkgsResp, err := x.c.Packages.List(x.ctx, all)
	if err != nil {
		return fail(err, "%s", what)
	}
	trigs, trigsResp, err := x.c.Triggers.List(x.ctx, all)
	if err != nil {
		return fail(err, "%s", what)
	}
	rls, rulesResp, err := x.c.Rules.List(x.ctx, all)
	if err != nil {
		return fail(err, "%s", what)
	}
	if x.flags.json {
		b, err := json.Marshal(map[string]json.RawMessage{
			"actions": actsResp.Body, "packages": pkgsResp.Body, "triggers": trigsResp.Body, "rules": rulesResp.Body,
		})
		if err != nil {
			return err
		}
		return x.raw(b)
	}
	fmt.Fprintf(x.stdout, "Entities in namespace: %s\n", ns)
	for _, err := range []error{
		rows("packages", plainRow)(x, pkgs),
		rows("actions", actionRow)(x, acts),
		rows("triggers", plainRow)(x, trigs),
	} {
		if err != nil {
			return err
		}
	}
	return ruleRows(x, rls)
}
