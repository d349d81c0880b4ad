package gustcmd

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api/client"
)

func init() { cliCommands = append(cliCommands, newActionCmd) }

// actionOptions are the flags of action create and update.
type actionOptions struct {
	files                                 kvFiles
	kind, main, docker, sequence, web     string
	webSecure                             string
	native                                bool
	memory, timeout, logSize, concurrency int
	set                                   *pflag.FlagSet
}

func (o *actionOptions) register(fs *pflag.FlagSet) {
	o.set = fs
	o.files.register(fs)
	fs.StringVar(&o.kind, "kind", "", "runtime `KIND`, e.g. nodejs:20 or python:default (default: from the file extension)")
	fs.StringVar(&o.main, "main", "", "name of the action's entry `FUNCTION`")
	fs.StringVar(&o.docker, "docker", "", "run the Docker `IMAGE` (kind blackbox)")
	fs.BoolVar(&o.native, "native", false, "run FILE as a native executable (blackbox openwhisk/dockerskeleton)")
	fs.StringVar(&o.sequence, "sequence", "", "make a sequence of the comma-separated `ACTIONS`")
	fs.StringVar(&o.web, "web", "", "make a web action: true, raw or false")
	fs.StringVar(&o.webSecure, "web-secure", "", "require `SECRET` in the X-Require-Whisk-Auth header of web requests: a string, true (a random one) or false")
	fs.IntVarP(&o.memory, "memory", "m", 0, "memory limit in `MB`")
	fs.IntVarP(&o.timeout, "timeout", "t", 0, "timeout in `MS`")
	fs.IntVarP(&o.logSize, "logsize", "l", 0, "log size limit in `MB`")
	fs.IntVarP(&o.concurrency, "concurrency", "c", 0, "activations one container runs at once")
}

// binaryExtensions are the artifacts sent as base64.
var binaryExtensions = map[string]bool{".zip": true, ".jar": true}

// kindByExtension is wsk's kind inference from a code file's extension.
var kindByExtension = map[string]string{
	".js": "nodejs:default", ".py": "python:default", ".swift": "swift:default", ".jar": "java:default",
	".php": "php:default", ".rb": "ruby:default", ".rs": "rust:default", ".go": "go:default",
}

// request builds the PUT body of an action named name from the flags, the
// pairs in x and the code FILE (may be empty).
func (o *actionOptions) request(x *call, name, file string, create bool) (*client.ActionRequest, error) {
	params, annots, err := x.keyValues(&o.files)
	if err != nil {
		return nil, err
	}
	ns, rel := client.SplitName(name)
	req := &client.ActionRequest{Namespace: ns, Name: rel, Parameters: params, Annotations: annots}
	if req.Exec, err = o.exec(file, create); err != nil {
		return nil, usageError(err)
	}
	if o.web != "" {
		export, raw, final, err := webAnnotations(o.web)
		if err != nil {
			return nil, usageError(err)
		}
		req.Annotations = req.Annotations.Merge(actions.KeyValues{}.
			Set("web-export", export).Set("raw-http", raw).Set("final", final))
	}
	if o.webSecure != "" {
		req.Annotations = req.Annotations.Merge(actions.KeyValues{}.Set("require-whisk-auth", webSecret(o.webSecure)))
	}
	var l client.Limits
	for flag, into := range map[string]**int{"timeout": &l.Timeout, "memory": &l.Memory, "logsize": &l.Logs, "concurrency": &l.Concurrency} {
		if o.set.Changed(flag) {
			v, _ := o.set.GetInt(flag)
			*into = &v
		}
	}
	if l != (client.Limits{}) {
		req.Limits = &l
	}
	return req, nil
}

// exec is the action's exec from --sequence, --docker, --native, --kind,
// --main and FILE; nil when an update changes none of them.
func (o *actionOptions) exec(file string, create bool) (*client.Exec, error) {
	switch {
	case o.sequence != "":
		if file != "" || o.docker != "" || o.native {
			return nil, errors.New("a sequence takes no FILE, --docker or --native")
		}
		e := &client.Exec{Kind: actions.KindSequence}
		for _, c := range strings.Split(o.sequence, ",") {
			if c = strings.TrimSpace(c); c != "" {
				e.Components = append(e.Components, client.Qualify(c))
			}
		}
		return e, nil
	case o.docker != "" || o.native:
		e := &client.Exec{Kind: actions.KindBlackbox, Image: o.docker, Main: o.main}
		if o.native {
			e.Image = "openwhisk/dockerskeleton"
		}
		if file != "" {
			code, err := readCode(file)
			if err != nil {
				return nil, err
			}
			e.Code = &code
		}
		return e, nil
	case file != "":
		code, err := readCode(file)
		if err != nil {
			return nil, err
		}
		kind := o.kind
		if kind == "" {
			ext := strings.ToLower(filepath.Ext(file))
			if ext == ".zip" {
				return nil, fmt.Errorf("creating an action from a .zip artifact requires specifying the action kind explicitly: add --kind, e.g. --kind nodejs:default")
			}
			if kind = kindByExtension[ext]; kind == "" {
				return nil, fmt.Errorf("cannot tell the kind of %s from its extension %q: add --kind, e.g. --kind nodejs:default", file, ext)
			}
		}
		return &client.Exec{Kind: kind, Code: &code, Main: o.main}, nil
	case o.kind != "" || o.main != "":
		return nil, errors.New("--kind and --main need a code FILE")
	case create:
		return nil, errors.New("an action needs a code FILE, --sequence or --docker")
	}
	return nil, nil
}

// readCode reads a code file: text as it is, .zip and .jar as base64.
func readCode(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read the code: %w", err)
	}
	if binaryExtensions[strings.ToLower(filepath.Ext(file))] {
		return base64.StdEncoding.EncodeToString(b), nil
	}
	return string(b), nil
}

// webAnnotations are wsk's annotations of --web: web-export, raw-http and
// final.
func webAnnotations(v string) (export, raw, final bool, err error) {
	switch strings.ToLower(v) {
	case "true", "yes":
		return true, false, true, nil
	case "raw":
		return true, true, true, nil
	case "false", "no":
		return false, false, false, nil
	}
	return false, false, false, fmt.Errorf("invalid argument '%s' for --web: use true, yes, raw, false or no", v)
}

// webSecret is the require-whisk-auth annotation of --web-secure v: a
// random secret for true (wsk makes a random number), false to require
// nothing, else v. Create and update print nothing of it: `action get`
// shows it.
func webSecret(v string) any {
	switch strings.ToLower(v) {
	case "true":
		return rand.Text()
	case "false":
		return false
	}
	return v
}

func newActionCmd(e *env) *cobra.Command {
	put := putSpec[actions.Action]{kind: "action", coll: actionsOf, args: "NAME [FILE]", minArgs: 1, maxArgs: 2, readFirst: true,
		flags: func() (func(*pflag.FlagSet), func(*call, []string, bool) (any, error)) {
			o := &actionOptions{}
			return o.register, func(x *call, args []string, update bool) (any, error) {
				file := ""
				if len(args) > 1 {
					file = args[1]
				}
				return o.request(x, args[0], file, !update)
			}
		}}
	var get struct{ summary, url bool }
	var inv client.InvokeOptions
	var invFiles kvFiles
	return group(e, "action", "Work with actions", true,
		put.leaf(false), put.leaf(true),
		leaf{use: "get NAME", short: "Get an action", minArgs: 1, maxArgs: 1,
			flags: func(fs *pflag.FlagSet) {
				fs.BoolVarP(&get.summary, "summary", "s", false, "summarize the action's details")
				fs.BoolVarP(&get.url, "url", "r", false, "print the action's URL")
			},
			run: func(x *call, args []string) error {
				a, resp, err := x.c.Actions.Get(x.ctx, args[0])
				if err != nil {
					return fail(err, "Unable to get action '%s'", args[0])
				}
				return x.show(resp, func() error {
					switch {
					case get.url:
						x.ok("got action %s", args[0])
						fmt.Fprintln(x.stdout, actionURL(x.c.APIHost(), a))
					case get.summary:
						x.summary("action", a.Namespace, a.Name, a.Annotations, a.Parameters)
					default:
						x.ok("got action %s", args[0])
						return x.pretty(resp.Body)
					}
					return nil
				})
			}},
		listLeaf("action", actionsOf, rows("actions", actionRow)),
		deleteLeaf("action", actionsOf, nil),
		leaf{use: "invoke NAME", short: "Invoke an action", minArgs: 1, maxArgs: 1, pairs: true,
			flags: func(fs *pflag.FlagSet) {
				invFiles.register(fs)
				fs.BoolVarP(&inv.Blocking, "blocking", "b", false, "wait for the activation and print it")
				fs.BoolVarP(&inv.Result, "result", "r", false, "wait and print only the result (implies --blocking)")
			},
			run: func(x *call, args []string) error {
				params, _, err := x.keyValues(&invFiles)
				if err != nil {
					return err
				}
				if inv.Result {
					inv.Blocking = true
				}
				return x.invoke(args[0], payload(params), inv)
			}},
	)
}

// listFlags adds --limit and --skip, with wsk's defaults.
func listFlags(o *client.ListOptions) func(*pflag.FlagSet) {
	return func(fs *pflag.FlagSet) {
		fs.IntVarP(&o.Limit, "limit", "l", 30, "list at most `N` entities (0: the server's maximum)")
		fs.IntVarP(&o.Skip, "skip", "s", 0, "skip the first `N` entities")
	}
}

// invoke invokes the action name and prints the answer as wsk does.
func (x *call) invoke(name string, params []byte, o client.InvokeOptions) error {
	var stop func()
	if o.Blocking {
		stop = x.noteBuilding(name)
	}
	resp, err := x.c.Invoke(x.ctx, name, params, o)
	if stop != nil {
		stop()
	}
	var actErr *client.ActivationError
	switch {
	case errors.As(err, &actErr) && o.Result && !x.flags.json:
		// The result is the error: say it once, as an error.
		return fail(err, "Unable to invoke action '%s'", name)
	case errors.As(err, &actErr):
		// The action failed: show what it returned, then exit non-zero;
		// the record or the JSON says why, so no error line repeats it.
		if perr := x.showInvocation(name, resp, o); perr != nil {
			return perr
		}
		if o.Result {
			return quietly(fail(err, "Unable to invoke action '%s'", name))
		}
		return fail(err, "Unable to invoke action '%s'", name)
	case err != nil:
		return fail(err, "Unable to invoke action '%s'", name)
	}
	return x.showInvocation(name, resp, o)
}

// buildNoticeEvery is how often a blocking invoke that has not been
// answered asks whether its runtime image is being built.
const buildNoticeEvery = time.Second

// noteBuilding says on stderr, once, that action name's runtime image is
// being built, when an invoker builds that kind's image while a blocking
// invoke waits: the first use of a kind waits for its build. It asks every
// buildNoticeEvery. stop ends the watch and returns once nothing more will
// be printed.
func (x *call) noteBuilding(name string) (stop func()) {
	ctx, cancel := context.WithCancel(x.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(buildNoticeEvery)
		defer t.Stop()
		kind := ""
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if kind == "" {
				a, _, err := x.c.Actions.Get(ctx, name)
				if err != nil {
					return
				}
				rt, err := actions.DefaultManifest().Resolve(a.Exec.Kind)
				if err != nil {
					return // a sequence or blackbox action: no runtime image
				}
				kind = rt.Kind
			}
			building, _, err := x.c.RuntimesBuilding(ctx)
			if err != nil {
				return
			}
			if slices.Contains(building, kind) && ctx.Err() == nil {
				fmt.Fprintf(x.stderr, "building runtime image %s (first use) ...\n", kind)
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// invocationID is the activation id of an invocation's answer: its body's,
// else its header's.
func invocationID(resp *client.Response) string {
	var v struct {
		ActivationID string `json:"activationId"`
	}
	if json.Unmarshal(resp.Body, &v) == nil && v.ActivationID != "" {
		return v.ActivationID
	}
	return resp.Header.Get("x-openwhisk-activation-id")
}

// showInvocation prints an invocation's answer: the id, the activation or
// the result.
func (x *call) showInvocation(name string, resp *client.Response, o client.InvokeOptions) error {
	if x.flags.json {
		return x.raw(resp.Body)
	}
	qualified, id := client.Qualify(name), invocationID(resp)
	switch {
	case resp.StatusCode == http.StatusAccepted && o.Blocking:
		x.ok("invoked %s, but the request has not yet finished, with id %s", qualified, id)
		return nil
	case resp.StatusCode == http.StatusAccepted:
		x.ok("invoked %s with id %s", qualified, id)
		return nil
	case o.Result:
		return x.prettySorted(resp.Body)
	}
	x.ok("invoked %s with id %s", qualified, id)
	return x.prettySorted(resp.Body)
}

// actionURL is wsk's --url: the web URL of a web action, else its API URL.
func actionURL(apiHost string, a *actions.Action) string {
	n := a.FullName()
	if a.Annotations.IsTrue("web-export") {
		pkg := n.Package
		if pkg == "" {
			pkg = "default"
		}
		return apiHost + "/api/v1/web/" + n.Namespace + "/" + pkg + "/" + n.Name
	}
	return apiHost + "/api/v1/namespaces/" + n.Namespace + "/actions/" + n.Local()
}

// summary prints wsk's --summary of an entity: its name and description,
// then its parameters, "*" marking those with a bound value.
func (x *call) summary(kind, namespace, name string, annots, params actions.KeyValues) {
	desc := ""
	if d, ok := annots.String("description"); ok && d != "" {
		desc = ": " + d
	}
	fmt.Fprintf(x.stdout, "%s /%s/%s%s\n", kind, namespace, name, desc)
	var names []string
	var declared []struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(annots.Get("parameters"), &declared)
	for _, d := range declared {
		if !params.Has(d.Name) {
			names = append(names, d.Name)
		}
	}
	for _, p := range params {
		names = append(names, "*"+p.Key)
	}
	if len(names) == 0 {
		fmt.Fprintf(x.stdout, "   (parameters: none defined)\n")
		return
	}
	fmt.Fprintf(x.stdout, "   (parameters: %s)\n", strings.Join(names, ", "))
}

// actionRow is a row of wsk's action list: name, publish state, kind.
func actionRow(x *call, a client.Summary) {
	kind, _ := a.Annotations.String("exec")
	x.listRow(a.Namespace, a.Name, a.Publish, 0, kind)
}
