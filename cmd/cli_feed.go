package gustcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api/client"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/hub"
	"github.com/gusthub/gust/rules"
)

func init() { cliCommands = append(cliCommands, newFeedCmd) }

// feedAnnotation is the trigger annotation naming its feed action.
const feedAnnotation = "feed"

// qualifyFeed is the feed action of --feed: a fully qualified name as
// given; "package/feed" names a feed of the system namespace, so that
// `--feed alarms/interval` works as `--feed /whisk.system/alarms/interval`.
func qualifyFeed(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		if strings.Count(name, "/") != 3 {
			return "", usageError(fmt.Errorf("--feed %q: use /namespace/package/feed or package/feed", name))
		}
		return name, nil
	}
	if strings.Count(name, "/") != 1 {
		return "", usageError(fmt.Errorf("--feed %q: use package/feed (e.g. alarms/alarm) or /namespace/package/feed", name))
	}
	return "/" + actions.SystemNamespace + "/" + name, nil
}

// triggerPutLeaf is `trigger create` (or update). With --feed, the
// parameters go to the feed, not to the trigger, as wsk does: the trigger
// is created with the "feed" annotation, then the feed action is invoked
// with lifecycleEvent CREATE, and the trigger is deleted again when that
// fails. Updating a trigger that has a feed updates the feed (UPDATE).
func triggerPutLeaf(update bool) leaf {
	var files kvFiles
	var shared, feed string
	verb, past, short := "create", "created", "Create a trigger, optionally fed by a feed (--feed alarms/alarm -p cron '*/5 * * * *')"
	if update {
		verb, past, short = "update", "updated", "Update a trigger or its feed's parameters, or create it"
	}
	return leaf{use: verb + " NAME", short: short, minArgs: 1, maxArgs: 1, pairs: true,
		flags: func(fs *pflag.FlagSet) {
			files.register(fs)
			fs.StringVar(&shared, "shared", "", "share it with other namespaces: yes or no")
			fs.StringVarP(&feed, "feed", "f", "", "the trigger's `FEED`: package/feed (see `gust feed list`) or /namespace/package/feed")
		},
		run: func(x *call, args []string) error {
			name := args[0]
			params, annots, err := x.keyValues(&files)
			if err != nil {
				return err
			}
			publish, err := sharedFlag(shared)
			if err != nil {
				return err
			}
			existed := false
			if feed != "" {
				if feed, err = qualifyFeed(feed); err != nil {
					return err
				}
			}
			if update {
				_, _, fed, err := x.triggerFeed(name)
				existed = err == nil
				if fed != "" { // the trigger has a feed: the parameters update it
					if feed != "" && feed != fed {
						return usageError(fmt.Errorf("trigger %s is fed by %s: delete it to give it another feed", name, fed))
					}
					return x.putFeed(fed, feeds.Update, name, params)
				}
			}
			_, rel := client.SplitName(name)
			body := &client.TriggerRequest{Name: rel, Annotations: annots, Parameters: params, Publish: publish}
			if feed != "" {
				body.Parameters = nil // they are the feed's
				body.Annotations = annots.Set(feedAnnotation, feed)
			}
			_, resp, err := x.c.Triggers.Put(x.ctx, name, body, update)
			if err != nil {
				return fail(err, "Unable to %s trigger '%s'", verb, name)
			}
			if feed != "" {
				err := x.putFeed(feed, feeds.Create, name, params)
				if err != nil && !existed { // as wsk: no new trigger without its feed
					_, _, _ = x.c.Triggers.Delete(x.ctx, name, nil)
				}
				return err
			}
			return x.show(resp, func() error { x.ok("%s trigger %s", past, name); return nil })
		}}
}

// putFeed runs lifecycle event (CREATE or UPDATE) of feed for trigger
// with params and says what came of it: with --json the feed action's
// whole answer, its activation; else one line for the trigger and a short
// summary of the feed's configuration (its URL, a token or secret it
// generated, which is shown this once) and the next command to try. A
// failed feed is one error line.
func (x *call) putFeed(feed, event, trigger string, params actions.KeyValues) error {
	verb, past := "create", "created"
	if event == feeds.Update {
		verb, past = "update", "updated"
	}
	body, err := x.feedRequest(event, trigger, params)
	if err != nil {
		return err
	}
	resp, err := x.c.Invoke(x.ctx, feed, body, client.InvokeOptions{Blocking: true})
	if err != nil {
		return fail(x.missingFeed(feed, err), "Unable to %s trigger '%s'", verb, trigger)
	}
	if x.flags.json {
		return x.raw(resp.Body)
	}
	var rec struct {
		Response struct {
			Result struct {
				Config map[string]any `json:"config"`
			} `json:"result"`
		} `json:"response"`
	}
	_ = json.Unmarshal(resp.Body, &rec)
	x.ok("%s trigger %s, fed by %s", past, trigger, feed)
	printFeedSummary(x.stdout, trigger, rec.Response.Result.Config, params)
	return nil
}

// missingFeed is err of invoking feed, saying so when the feed action does
// not exist: a 404 alone could also be the feed's own answer, so the
// action is looked up before it is called missing.
func (x *call) missingFeed(feed string, err error) error {
	if !errors.Is(err, client.ErrNotFound) {
		return err
	}
	if _, _, getErr := x.c.Actions.Get(x.ctx, feed); !errors.Is(getErr, client.ErrNotFound) {
		return err
	}
	return fmt.Errorf("the feed action '%s' does not exist ('gust feed list' lists the feeds): %w", feed, err)
}

// printFeedSummary prints a feed's configuration config, as its CREATE or
// UPDATE answered, a line a parameter with the URL first and the
// parameters the user gave not repeated, then the next command to try.
// A token or secret the user did not give was generated: the CLI says
// that it is shown this once.
func printFeedSummary(w io.Writer, trigger string, config map[string]any, given actions.KeyValues) {
	_, rel := client.SplitName(trigger)
	url, _ := config["url"].(string)
	if given.Get("url") != nil {
		// The user's own url is where the feed reads from (a CouchDB, a
		// broker), not a URL to send events to: not repeated as one.
		url = ""
	}
	if url != "" {
		fmt.Fprintf(w, "  url: %s\n", url)
	}
	printEmbeddedTopics(w, config, url)
	var token, secret string
	for _, k := range slices.Sorted(maps.Keys(config)) {
		if k == "url" || k == "feed" || k == "triggerName" || given.Get(k) != nil {
			continue
		}
		v := config[k]
		text, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			text = string(b)
		}
		note := ""
		if (k == "token" || k == "secret") && text != feeds.Masked {
			note = " (generated: shown this once, keep it)"
			if k == "token" {
				token = text
			} else {
				secret = text
			}
		}
		fmt.Fprintf(w, "  %s: %s%s\n", k, text, note)
	}
	if given.Get("token") != nil {
		token = "TOKEN"
	}
	if given.Get("secret") != nil {
		secret = "SECRET"
	}
	next := fmt.Sprintf("gust rule create RULE %s ACTION, then gust events tail %s", rel, rel)
	switch {
	case url != "" && token != "":
		next += fmt.Sprintf("; send an event: gust event send --url %s --token %s --type com.example.hello --data '{\"hello\":\"world\"}'", url, token)
	case url != "" && secret != "":
		next += fmt.Sprintf("; senders POST to %s, signing with the secret", url)
	}
	fmt.Fprintf(w, "next: %s\n", next)
}

// printEmbeddedTopics says, for an mqtt/subscribe feed on Gust's own MQTT
// listener (no url), the topics devices must publish to: the feed's topic
// filters are below the namespace's prefix, so `-p topic guest/temps/#` in
// namespace guest waits on guest/guest/temps/# and silently gets nothing
// from a device publishing to guest/temps/x. A filter that already starts
// with the prefix gets a hint.
func printEmbeddedTopics(w io.Writer, config map[string]any, url string) {
	topic, _ := config["topic"].(string)
	trigger, _ := config["triggerName"].(string)
	if config["feed"] != "/whisk.system/mqtt/subscribe" || url != "" || topic == "" || trigger == "" {
		return
	}
	ns, _ := client.SplitName(trigger)
	prefix := hub.TopicPrefix(ns)
	var full, hints []string
	for _, f := range strings.Split(topic, ",") {
		f = strings.TrimSpace(f)
		full = append(full, prefix+f)
		if rest, ok := strings.CutPrefix(f, prefix); ok && rest != "" {
			hints = append(hints, rest)
		}
	}
	fmt.Fprintf(w, "  devices publish to: %s (topics are below %s on Gust's MQTT listener)\n", strings.Join(full, ","), prefix)
	if len(hints) > 0 {
		fmt.Fprintf(w, "  note: the topic already starts with %s; for the device topics %s, use -p topic '%s'\n",
			prefix, prefix+strings.Join(hints, ","+prefix), strings.Join(hints, ","))
	}
}

// feedRequest is the body of a feed action invocation, as wsk sends it:
// the parameters with authKey (the CLI's key), lifecycleEvent and
// triggerName, keys sorted.
func (x *call) feedRequest(event, trigger string, params actions.KeyValues) (json.RawMessage, error) {
	s, err := x.settings("")
	if err != nil {
		return nil, err
	}
	return payload(params.Set("authKey", s.auth).Set("lifecycleEvent", event).Set("triggerName", client.Qualify(trigger))), nil
}

// triggerFeed returns the feed annotation of trigger name, "" when it has
// none; the trigger itself is returned too.
func (x *call) triggerFeed(name string) (*rules.Trigger, *client.Response, string, error) {
	t, resp, err := x.c.Triggers.Get(x.ctx, name)
	if err != nil {
		return nil, resp, "", err
	}
	var feed string
	_ = json.Unmarshal(t.Annotations.Get(feedAnnotation), &feed)
	return t, resp, feed, nil
}

// triggerGetLeaf is `trigger get`: the trigger and, for a trigger with a
// feed, the feed's configuration and status (lifecycleEvent READ).
func triggerGetLeaf() leaf {
	return leaf{use: "get NAME", short: "Get a trigger, and its feed's configuration and status", minArgs: 1, maxArgs: 1,
		run: func(x *call, args []string) error {
			_, resp, feed, err := x.triggerFeed(args[0])
			if err != nil {
				return fail(err, "Unable to get trigger '%s'", args[0])
			}
			if x.flags.json {
				return x.raw(resp.Body)
			}
			x.ok("got trigger %s", args[0])
			if err := x.pretty(resp.Body); err != nil || feed == "" {
				return err
			}
			read, err := x.feedRequest(feeds.Read, args[0], nil)
			if err != nil {
				return err
			}
			fresp, err := x.c.Invoke(x.ctx, feed, read, client.InvokeOptions{Blocking: true, Result: true})
			if err != nil {
				fmt.Fprintf(x.stderr, "warning: could not read the status of feed %s: %v\n", feed, err)
				return nil
			}
			fmt.Fprintf(x.stdout, "feed %s:\n", feed)
			return x.prettySorted(fresp.Body)
		}}
}

// triggerDeleteLeaf is `trigger delete`: as wsk, it reads the trigger,
// tells its feed (lifecycleEvent DELETE; a failure is only reported), then
// deletes the trigger.
func triggerDeleteLeaf() leaf {
	return leaf{use: "delete NAME", short: "Delete a trigger, and its feed", minArgs: 1, maxArgs: 1,
		run: func(x *call, args []string) error {
			_, _, feed, err := x.triggerFeed(args[0])
			if err != nil {
				return fail(err, "Unable to delete trigger '%s'", args[0])
			}
			if feed != "" {
				if err := x.stopFeed(feed, args[0]); err != nil {
					fmt.Fprintf(x.stderr, "warning: feed %s: %v\n", feed, err)
				}
			}
			return deleteLeaf("trigger", triggersOf, nil).run(x, args)
		}}
}

// stopFeed tells trigger's feed that the trigger goes (lifecycleEvent
// DELETE), with the request wsk sends, and says so in a line: the feed's
// activation, which wsk prints, is a page of JSON that only says it ran
// (`gust activation get` shows it). With --json it prints nothing, so that
// the output is the deleted trigger alone.
func (x *call) stopFeed(feed, trigger string) error {
	body, err := x.feedRequest(feeds.Delete, trigger, nil)
	if err != nil {
		return err
	}
	resp, err := x.c.Invoke(x.ctx, feed, body, client.InvokeOptions{Blocking: true})
	if err != nil {
		return err
	}
	switch {
	case x.flags.json:
	case resp.StatusCode == http.StatusAccepted: // the blocking wait ended first
		x.ok("told feed %s that trigger %s goes; it has not answered yet (activation %s)", client.Qualify(feed), trigger, invocationID(resp))
	default:
		x.ok("stopped feed %s of trigger %s (activation %s)", client.Qualify(feed), trigger, invocationID(resp))
	}
	return nil
}

// newFeedCmd is `gust feed list`: the feed actions of the system
// namespace and their parameters.
func newFeedCmd(e *env) *cobra.Command {
	return group(e, "feed", "Work with feeds: the event sources a trigger can have", true,
		leaf{use: "list", short: "List the feeds and their parameters", maxArgs: 0,
			run: func(x *call, _ []string) error {
				pkgs, _, err := x.c.Packages.ListIn(x.ctx, actions.SystemNamespace, client.ListOptions{})
				if err != nil {
					return fail(err, "Unable to list the feeds")
				}
				type feedInfo struct {
					Name        string        `json:"name"`
					Description string        `json:"description"`
					Parameters  []feeds.Param `json:"parameters"`
				}
				var all []feedInfo
				for _, p := range pkgs {
					_, presp, err := x.c.Packages.Get(x.ctx, "/"+actions.SystemNamespace+"/"+p.Name)
					if err != nil {
						return fail(err, "Unable to get package '%s'", p.Name)
					}
					var body struct {
						Feeds []struct {
							Name        string            `json:"name"`
							Annotations actions.KeyValues `json:"annotations"`
						} `json:"feeds"`
					}
					if err := json.Unmarshal(presp.Body, &body); err != nil {
						return fail(err, "Unable to read package '%s'", p.Name)
					}
					for _, f := range body.Feeds {
						fi := feedInfo{Name: "/" + actions.SystemNamespace + "/" + p.Name + "/" + f.Name}
						_ = json.Unmarshal(f.Annotations.Get("description"), &fi.Description)
						_ = json.Unmarshal(f.Annotations.Get("parameters"), &fi.Parameters)
						all = append(all, fi)
					}
				}
				sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
				if x.flags.json {
					b, _ := json.Marshal(all)
					return x.raw(b)
				}
				fmt.Fprintln(x.stdout, "feeds")
				for _, f := range all {
					fmt.Fprintf(x.stdout, "%-40s %s\n", f.Name, f.Description)
					for _, p := range f.Parameters {
						req := ""
						if p.Required {
							req = " (required)"
						}
						fmt.Fprintf(x.stdout, "    %s%s: %s\n", p.Name, req, p.Description)
					}
				}
				return nil
			}})
}
