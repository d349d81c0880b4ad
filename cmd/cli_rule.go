package gustcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/api/client"
	"github.com/gusthub/gust/rules"
)

func init() { cliCommands = append(cliCommands, newRuleCmd) }

// ruleRequest is the body of a rule PUT with Gust's filter and delivery
// fields, which the server stores as the rule's "filter" and "delivery"
// annotations.
type ruleRequest struct {
	client.RuleRequest
	Filter   json.RawMessage `json:"filter,omitempty"`
	Delivery json.RawMessage `json:"delivery,omitempty"`
}

// ruleBody is the flags and PUT body of rule create and update: besides
// wsk's NAME TRIGGER ACTION, --filter JSON (a CloudEvents Subscriptions API
// filter, or null to remove one on update) and --filter-sql EXPR (sugar for
// {"sql": EXPR}), and the delivery policy flags --retries N, --backoff D
// and --dead-letter TRIGGER (rules.Delivery; on update, any of them
// replaces the whole policy, and --no-delivery removes it).
func ruleBody() (func(*pflag.FlagSet), func(*call, []string, bool) (any, error)) {
	var filter, filterSQL string
	var policy deliveryFlags
	register := func(fs *pflag.FlagSet) {
		policy.register(fs)
		fs.StringVar(&filter, "filter", "", "run the rule only for events that match the `JSON` filter, e.g. '{\"exact\":{\"type\":\"com.github.push\"}}' (dialects exact, prefix, suffix, all, any, not, sql; attributes, extensions and data.<path>); null removes it")
		fs.StringVar(&filterSQL, "filter-sql", "", "run the rule only for events where the CESQL `EXPR` is true, e.g. \"type LIKE 'com.github.%'\"")
	}
	body := func(_ *call, args []string, _ bool) (any, error) {
		_, rel := client.SplitName(args[0])
		req := &ruleRequest{RuleRequest: client.RuleRequest{Name: rel, Trigger: client.Qualify(args[1]), Action: client.Qualify(args[2])}}
		f, err := filterFlag(filter, filterSQL)
		if err != nil {
			return nil, usageError(err)
		}
		req.Filter = f
		if req.Delivery, err = policy.body(); err != nil {
			return nil, usageError(err)
		}
		return req, nil
	}
	return register, body
}

// filterFlag is the filter of --filter or --filter-sql: nil when neither is
// given. The server checks the filter itself; here only that it is JSON.
func filterFlag(filter, filterSQL string) (json.RawMessage, error) {
	switch {
	case filter != "" && filterSQL != "":
		return nil, errors.New("give --filter or --filter-sql, not both")
	case filterSQL != "":
		if strings.TrimSpace(filterSQL) == "" {
			return nil, errors.New("--filter-sql needs an expression")
		}
		b, err := json.Marshal(map[string]string{"sql": filterSQL})
		return b, err
	case filter != "":
		if !json.Valid([]byte(filter)) {
			return nil, fmt.Errorf("invalid argument for --filter: not JSON: %s", filter)
		}
		return json.RawMessage(filter), nil
	}
	return nil, nil
}

// deliveryFlags are the flags of a rule's delivery policy.
type deliveryFlags struct {
	fs         *pflag.FlagSet
	retries    int
	backoff    string
	deadLetter string
	none       bool
}

func (d *deliveryFlags) register(fs *pflag.FlagSet) {
	d.fs = fs
	fs.IntVar(&d.retries, "retries", 0, fmt.Sprintf("run the action again, up to `N` times (0-%d), when it fails with a developer or internal error (not an application error)", rules.MaxRetries))
	fs.StringVar(&d.backoff, "backoff", "", fmt.Sprintf("wait `D` before the first retry, twice as long before each next one, at most %v (default %v)", rules.MaxBackoff, rules.DefaultBackoff))
	fs.StringVar(&d.deadLetter, "dead-letter", "", "when every attempt failed, fire `TRIGGER` (of the rule's namespace; it must exist already) with a "+rules.DeadLetterType+" event describing the failure")
	fs.BoolVar(&d.none, "no-delivery", false, "remove the rule's delivery policy (update)")
}

// body is the delivery policy the flags give: nil when none is given,
// null for --no-delivery. The server checks the policy.
func (d *deliveryFlags) body() (json.RawMessage, error) {
	given := d.fs.Changed("retries") || d.backoff != "" || d.deadLetter != ""
	switch {
	case d.none && given:
		return nil, errors.New("give --no-delivery or --retries, --backoff and --dead-letter, not both")
	case d.none:
		return json.RawMessage("null"), nil
	case !given:
		return nil, nil
	}
	p := rules.Delivery{Retries: d.retries, Backoff: d.backoff}
	if d.deadLetter != "" {
		p.DeadLetter = client.Qualify(d.deadLetter)
	}
	return json.Marshal(p)
}

func newRuleCmd(e *env) *cobra.Command {
	put := putSpec[rules.Rule]{kind: "rule", coll: rulesOf, args: "NAME TRIGGER ACTION", minArgs: 3, maxArgs: 3,
		flags: ruleBody}
	var disable bool
	del := deleteLeaf("rule", rulesOf, nil)
	del.flags = func(fs *pflag.FlagSet) { fs.BoolVar(&disable, "disable", false, "disable the rule first") }
	deleteRule := del.run
	del.run = func(x *call, args []string) error {
		if disable {
			if _, err := x.c.SetRuleStatus(x.ctx, args[0], rules.StatusInactive); err != nil {
				return fail(err, "Unable to disable rule '%s'", args[0])
			}
		}
		return deleteRule(x, args)
	}
	return group(e, "rule", "Work with rules", true,
		put.leaf(false), put.leaf(true),
		getLeaf("rule", rulesOf),
		listLeaf("rule", rulesOf, ruleRows),
		del,
		ruleStatusLeaf("enable", "enabled", rules.StatusActive),
		ruleStatusLeaf("disable", "disabled", rules.StatusInactive),
		leaf{use: "status NAME", short: "Show whether a rule is active", minArgs: 1, maxArgs: 1,
			run: func(x *call, args []string) error {
				r, resp, err := x.c.Rules.Get(x.ctx, args[0])
				if err != nil {
					return fail(err, "Unable to get status of rule '%s'", args[0])
				}
				return x.show(resp, func() error { x.ok("rule %s is %s", args[0], r.Status); return nil })
			}},
	)
}

// ruleStatusLeaf is rule enable or rule disable.
func ruleStatusLeaf(verb, past, status string) leaf {
	return leaf{use: verb + " NAME", short: "Set a rule " + status, minArgs: 1, maxArgs: 1,
		run: func(x *call, args []string) error {
			resp, err := x.c.SetRuleStatus(x.ctx, args[0], status)
			if err != nil {
				return fail(err, "Unable to %s rule '%s'", verb, args[0])
			}
			return x.show(resp, func() error { x.ok("%s rule %s", past, args[0]); return nil })
		}}
}

// ruleRows prints wsk's rule list; as wsk, it reads each rule for its
// status.
func ruleRows(x *call, all []client.Summary) error {
	fmt.Fprintln(x.stdout, "rules")
	for _, r := range all {
		full, _, err := x.c.Rules.Get(x.ctx, "/"+r.Namespace+"/"+r.Name)
		if err != nil {
			return fail(err, "Unable to get the status of rule '%s'", r.Name)
		}
		x.listRow(r.Namespace, r.Name, r.Publish, 20, full.Status)
	}
	return nil
}
