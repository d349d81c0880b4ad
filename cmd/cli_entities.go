package gustcmd

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api/client"
	"github.com/gusthub/gust/rules"
)

func init() {
	cliCommands = append(cliCommands, newPackageCmd, newTriggerCmd)
}

// Accessors of the client's collections, for the generic leaves.
func actionsOf(c *client.Client) *client.Collection[actions.Action]   { return c.Actions }
func packagesOf(c *client.Client) *client.Collection[actions.Package] { return c.Packages }
func triggersOf(c *client.Client) *client.Collection[rules.Trigger]   { return c.Triggers }
func rulesOf(c *client.Client) *client.Collection[rules.Rule]         { return c.Rules }

// putSpec describes `KIND create` and `KIND update`.
type putSpec[T any] struct {
	kind string
	coll func(*client.Client) *client.Collection[T]
	// args is the usage of the arguments after the verb, e.g. "NAME [FILE]".
	args             string
	minArgs, maxArgs int
	// flags returns the flags of one leaf; each leaf has its own.
	flags func() (func(*pflag.FlagSet), func(x *call, args []string, update bool) (any, error))
	// readFirst reads the entity before an update, as wsk does for
	// actions; a missing one is created.
	readFirst bool
}

// leaf is the create leaf, or with update the update leaf.
func (s putSpec[T]) leaf(update bool) leaf {
	register, body := s.flags()
	verb, past, short := "create", "created", "Create "+article(s.kind)
	if update {
		verb, past, short = "update", "updated", "Update "+article(s.kind)+", or create it"
	}
	return leaf{use: verb + " " + s.args, short: short, minArgs: s.minArgs, maxArgs: s.maxArgs, pairs: true, flags: register,
		run: func(x *call, args []string) error {
			name := args[0]
			req, err := body(x, args, update)
			if err != nil {
				return err
			}
			if update && s.readFirst {
				if _, _, err := s.coll(x.c).Get(x.ctx, name); err != nil && !errors.Is(err, client.ErrNotFound) {
					return fail(err, "Unable to %s %s '%s'", verb, s.kind, name)
				}
			}
			_, resp, err := s.coll(x.c).Put(x.ctx, name, req, update)
			if err != nil {
				return fail(err, "Unable to %s %s '%s'", verb, s.kind, name)
			}
			return x.show(resp, func() error { x.ok("%s %s %s", past, s.kind, name); return nil })
		}}
}

// getLeaf is `KIND get NAME`: "ok: got KIND NAME" and the entity.
func getLeaf[T any](kind string, coll func(*client.Client) *client.Collection[T]) leaf {
	return leaf{use: "get NAME", short: "Get " + article(kind), minArgs: 1, maxArgs: 1,
		run: func(x *call, args []string) error {
			_, resp, err := coll(x.c).Get(x.ctx, args[0])
			if err != nil {
				return fail(err, "Unable to get %s '%s'", kind, args[0])
			}
			return x.show(resp, func() error {
				x.ok("got %s %s", kind, args[0])
				return x.pretty(resp.Body)
			})
		}}
}

// listLeaf is `KIND list`: rows prints the human form of a page.
func listLeaf[T any](kind string, coll func(*client.Client) *client.Collection[T], rows func(x *call, all []client.Summary) error) leaf {
	var o client.ListOptions
	return leaf{use: "list", short: "List " + kind + "s", maxArgs: 0, flags: listFlags(&o),
		run: func(x *call, _ []string) error {
			all, resp, err := coll(x.c).List(x.ctx, o)
			if err != nil {
				return fail(err, "Unable to obtain the list of %ss for namespace 'default'", kind)
			}
			return x.show(resp, func() error { return rows(x, all) })
		}}
}

// deleteLeaf is `KIND delete NAME`; query adds URL parameters (may be nil).
func deleteLeaf[T any](kind string, coll func(*client.Client) *client.Collection[T], query func() url.Values) leaf {
	return leaf{use: "delete NAME", short: "Delete " + article(kind), minArgs: 1, maxArgs: 1,
		run: func(x *call, args []string) error {
			var q url.Values
			if query != nil {
				q = query()
			}
			_, resp, err := coll(x.c).Delete(x.ctx, args[0], q)
			if err != nil {
				return fail(err, "Unable to delete %s '%s'", kind, args[0])
			}
			return x.show(resp, func() error { x.ok("deleted %s %s", kind, args[0]); return nil })
		}}
}

// rows prints a list titled title, one row per entity.
func rows(title string, row func(x *call, v client.Summary)) func(x *call, all []client.Summary) error {
	return func(x *call, all []client.Summary) error {
		fmt.Fprintln(x.stdout, title)
		for _, v := range all {
			row(x, v)
		}
		return nil
	}
}

// entityBody is the flags and PUT body of packages and triggers: -p, -a,
// -P, -A and --shared.
func entityBody(build func(x *call, name string, params, annots actions.KeyValues, publish *bool) any) func() (func(*pflag.FlagSet), func(*call, []string, bool) (any, error)) {
	return func() (func(*pflag.FlagSet), func(*call, []string, bool) (any, error)) {
		var files kvFiles
		var shared string
		register := func(fs *pflag.FlagSet) {
			files.register(fs)
			fs.StringVar(&shared, "shared", "", "share it with other namespaces: yes or no")
		}
		body := func(x *call, args []string, _ bool) (any, error) {
			params, annots, err := x.keyValues(&files)
			if err != nil {
				return nil, err
			}
			publish, err := sharedFlag(shared)
			if err != nil {
				return nil, err
			}
			return build(x, args[0], params, annots, publish), nil
		}
		return register, body
	}
}

// sharedFlag parses --shared: nil when not given.
func sharedFlag(v string) (*bool, error) {
	var b bool
	switch v {
	case "":
		return nil, nil
	case "yes", "true":
		b = true
	case "no", "false":
	default:
		return nil, usageError(fmt.Errorf("invalid argument '%s' for --shared: use yes or no", v))
	}
	return &b, nil
}

func newPackageCmd(e *env) *cobra.Command {
	put := putSpec[actions.Package]{kind: "package", coll: packagesOf, args: "NAME", minArgs: 1, maxArgs: 1,
		flags: entityBody(func(_ *call, name string, params, annots actions.KeyValues, publish *bool) any {
			ns, rel := client.SplitName(name)
			return &client.PackageRequest{Namespace: ns, Name: rel, Publish: publish, Annotations: annots, Parameters: params}
		})}
	var force bool
	del := deleteLeaf("package", packagesOf, func() url.Values {
		if force {
			return url.Values{"force": {"true"}}
		}
		return nil
	})
	del.flags = func(fs *pflag.FlagSet) {
		fs.BoolVar(&force, "force", false, "delete the package's actions too")
	}
	var bindFiles kvFiles
	return group(e, "package", "Work with packages", true,
		put.leaf(false), put.leaf(true),
		getLeaf("package", packagesOf),
		listLeaf("package", packagesOf, rows("packages", plainRow)),
		del,
		leaf{use: "bind PACKAGE NAME", short: "Bind a package: a reference with parameters of its own", minArgs: 2, maxArgs: 2, pairs: true,
			flags: bindFiles.register,
			run: func(x *call, args []string) error {
				params, annots, err := x.keyValues(&bindFiles)
				if err != nil {
					return err
				}
				ns, rel := client.SplitName(args[0])
				req := &client.PackageRequest{Annotations: annots, Parameters: params, Binding: &actions.Binding{Namespace: ns, Name: rel}}
				_, resp, err := x.c.Packages.Put(x.ctx, args[1], req, false)
				if err != nil {
					return fail(err, "Binding creation failed")
				}
				return x.show(resp, func() error { x.ok("created binding %s", args[1]); return nil })
			}},
	)
}

func newTriggerCmd(e *env) *cobra.Command {
	var fireFiles kvFiles
	return group(e, "trigger", "Work with triggers", true,
		triggerPutLeaf(false), triggerPutLeaf(true),
		triggerGetLeaf(),
		listLeaf("trigger", triggersOf, rows("triggers", plainRow)),
		triggerDeleteLeaf(),
		triggerReplayLeaf(),
		leaf{use: "fire NAME", short: "Fire a trigger", minArgs: 1, maxArgs: 1, pairs: true, flags: fireFiles.register,
			run: func(x *call, args []string) error {
				params, _, err := x.keyValues(&fireFiles)
				if err != nil {
					return err
				}
				id, resp, err := x.c.Fire(x.ctx, args[0], payload(params))
				if err != nil {
					return fail(err, "Unable to fire trigger '%s'", args[0])
				}
				return x.show(resp, func() error {
					if id == "" { // 204: no active rule
						x.ok("triggered %s, but it has no active rule: nothing ran and no activation was recorded (gust rule list shows its rules)",
							client.Qualify(args[0]))
						return nil
					}
					x.ok("triggered %s with id %s", client.Qualify(args[0]), id)
					return nil
				})
			}},
	)
}

// plainRow is a row of wsk's package and trigger lists.
func plainRow(x *call, s client.Summary) { x.listRow(s.Namespace, s.Name, s.Publish, 0) }
