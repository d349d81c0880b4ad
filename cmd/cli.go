package gustcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api/client"
)

// Environment variables of the CLI configuration; they override the
// configuration file and are overridden by the flags.
const (
	envAPIHost   = "GUST_APIHOST"
	envAuth      = "GUST_AUTH"
	envAdminAuth = "GUST_ADMIN_AUTH"
)

// Exit codes of client commands, as wsk's: a server error exits with its
// HTTP status (mod 256, so 404 exits 148); these cover the rest.
const (
	exitGeneral = 1
	exitUsage   = 2
	exitNetwork = 3
)

// cliFlags are the flags every client command takes.
type cliFlags struct {
	apiHost  string
	auth     string
	json     bool
	insecure bool
}

func (f *cliFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.apiHost, "apihost", "", "API host `URL`, e.g. http://127.0.0.1:3233 (env "+envAPIHost+"; default: the config file gust serve writes)")
	fs.StringVar(&f.auth, "auth", "", "namespace `KEY` uuid:secret (env "+envAuth+"; default: the config file)")
	fs.BoolVar(&f.json, "json", false, "print the server's JSON answer, for scripts")
	fs.BoolVarP(&f.insecure, "insecure", "i", false, "skip TLS certificate checks")
}

// call is one run of a client command.
type call struct {
	*env
	// ctx is the command's (cobra's cmd.Context()). It is the one context
	// Gust keeps in a struct, knowingly: a call is made for one command
	// run and dropped when it returns, as an http.Request carries its
	// request's context, and every client helper of the ~60 commands reads
	// it from here rather than from one more parameter.
	ctx   context.Context
	flags *cliFlags
	// params and annots are the -p and -a pairs, in order.
	params, annots actions.KeyValues
	// afterPair maps an argument that came right after a -p or -a pair to
	// that pair, for the error when it is one argument too many.
	afterPair map[string][3]string
	c         *client.Client
}

// leaf is one client command, such as `action create`.
type leaf struct {
	use, short string
	// minArgs and maxArgs bound the positional arguments; maxArgs < 0 means
	// no bound.
	minArgs, maxArgs int
	// pairs says the command takes -p/-a KEY VALUE (and -P/-A files).
	pairs bool
	// flags adds the command's own flags.
	flags func(*pflag.FlagSet)
	// offline commands need no server (and no configuration).
	offline bool
	run     func(x *call, args []string) error
}

// group is a command such as `action` whose subcommands are leaves; with
// global, they all take the cliFlags.
func group(e *env, use, short string, global bool, leaves ...leaf) *cobra.Command {
	f := &cliFlags{}
	g := &cobra.Command{Use: use, Short: short, Args: unknownSubcommand, RunE: func(cmd *cobra.Command, _ []string) error {
		return cmd.Help()
	}}
	if global {
		f.register(g.PersistentFlags())
	}
	for _, l := range leaves {
		g.AddCommand(l.command(e, f))
	}
	return g
}

// unknownSubcommand refuses the arguments of a group, as cobra.NoArgs
// does, with the subcommands whose names are close to the first, as cobra
// suggests them for the top level's (`gust action lst`: did you mean list?).
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only for the top level
	}
	if near := cmd.SuggestionsFor(args[0]); len(near) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(near, "\n\t")
	}
	return errors.New(msg)
}

// command builds the cobra command of l. Flag parsing is its own, since
// wsk's -p KEY VALUE takes two arguments, which pflag cannot express.
func (l leaf) command(e *env, f *cliFlags) *cobra.Command {
	cmd := &cobra.Command{Use: l.use, Short: l.short, DisableFlagParsing: true}
	if l.pairs {
		// Parsed by takePairs; declared so that --help lists them.
		cmd.Flags().StringArrayP("param", "p", nil, "parameter `KEY VALUE`; VALUE is JSON when it parses as JSON, else a string")
		cmd.Flags().StringArrayP("annotation", "a", nil, "annotation `KEY VALUE`; VALUE as for --param")
	}
	if l.flags != nil {
		l.flags(cmd.Flags())
	}
	cmd.RunE = func(cmd *cobra.Command, raw []string) error {
		x := &call{env: e, ctx: cmd.Context(), flags: f}
		rest, err := x.takePairs(raw, l.pairs)
		if err != nil {
			return usageError(err)
		}
		cmd.DisableFlagParsing = false
		err = cmd.ParseFlags(rest)
		cmd.DisableFlagParsing = true
		if err != nil {
			return usageError(err)
		}
		if help, _ := cmd.Flags().GetBool("help"); help {
			return cmd.Help()
		}
		args := cmd.Flags().Args()
		if l.maxArgs >= 0 && len(args) > l.maxArgs {
			extra := args[l.maxArgs]
			if p, ok := x.afterPair[extra]; ok {
				return usageError(fmt.Errorf("%s %s %s takes one key and one value, so '%s' is an argument too many: quote a value that has spaces, as in %s %s '%s %s'",
					p[0], p[1], p[2], extra, p[0], p[1], p[2], extra))
			}
			return usageError(fmt.Errorf("unexpected argument '%s'; usage: %s", extra, cmd.UseLine()))
		}
		if len(args) < l.minArgs {
			return usageError(fmt.Errorf("invalid arguments; usage: %s", cmd.UseLine()))
		}
		if !l.offline {
			if err := x.connect(""); err != nil {
				return err
			}
		}
		return l.run(x, args)
	}
	return cmd
}

// standalone is a top-level leaf, such as `list`, with the cliFlags.
func standalone(e *env, l leaf) *cobra.Command {
	f := &cliFlags{}
	cmd := l.command(e, f)
	f.register(cmd.Flags())
	return cmd
}

// takePairs removes -p/--param and -a/--annotation KEY VALUE from args into
// x.params and x.annots.
func (x *call) takePairs(args []string, pairs bool) ([]string, error) {
	if !pairs {
		return args, nil
	}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i:]...), nil
		}
		var into *actions.KeyValues
		switch a {
		case "-p", "--param":
			into = &x.params
		case "-a", "--annotation":
			into = &x.annots
		default:
			rest = append(rest, a)
			continue
		}
		if i+2 >= len(args) {
			return nil, fmt.Errorf("arguments for '%s' must be a key/value pair", a)
		}
		*into = into.Merge(actions.KeyValues{{Key: args[i+1], Value: parseValue(args[i+2])}})
		if i+3 < len(args) && !strings.HasPrefix(args[i+3], "-") {
			if x.afterPair == nil {
				x.afterPair = map[string][3]string{}
			}
			x.afterPair[args[i+3]] = [3]string{a, args[i+1], args[i+2]}
		}
		i += 2
	}
	return rest, nil
}

// parseValue is wsk's rule for -p and -a values: JSON when the text is
// valid JSON, else a string.
func parseValue(s string) json.RawMessage {
	var buf bytes.Buffer
	if json.Valid([]byte(s)) && json.Compact(&buf, []byte(s)) == nil {
		return buf.Bytes()
	}
	b, _ := json.Marshal(s)
	return b
}

// kvFiles are the -P and -A flags: JSON objects of parameters and
// annotations, overridden by -p and -a.
type kvFiles struct{ params, annots string }

func (k *kvFiles) register(fs *pflag.FlagSet) {
	fs.StringVarP(&k.params, "param-file", "P", "", "`FILE` of parameters: a JSON object")
	fs.StringVarP(&k.annots, "annotation-file", "A", "", "`FILE` of annotations: a JSON object")
}

// keyValues returns the parameters and annotations of -P/-A and -p/-a.
func (x *call) keyValues(k *kvFiles) (params, annots actions.KeyValues, err error) {
	if params, err = fromFile(k.params, x.params); err != nil {
		return nil, nil, err
	}
	if annots, err = fromFile(k.annots, x.annots); err != nil {
		return nil, nil, err
	}
	return params, annots, nil
}

// fromFile reads the JSON object in path (none when path is empty), keys
// sorted, and sets over on top.
func fromFile(path string, over actions.KeyValues) (actions.KeyValues, error) {
	if path == "" {
		return over, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError(fmt.Errorf("read %s: %w", path, err))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, usageError(fmt.Errorf("%s must hold a JSON object: %w", path, err))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var kvs actions.KeyValues
	for _, k := range keys {
		var buf bytes.Buffer
		if err := json.Compact(&buf, m[k]); err != nil {
			return nil, usageError(fmt.Errorf("%s: %w", path, err))
		}
		kvs = append(kvs, actions.KeyValue{Key: k, Value: buf.Bytes()})
	}
	return kvs.Merge(over), nil
}

// payload is kvs as one JSON object, keys sorted (as wsk sends it); nil
// when kvs is empty.
func payload(kvs actions.KeyValues) json.RawMessage {
	if len(kvs) == 0 {
		return nil
	}
	b, _ := json.Marshal(kvs.Object())
	return b
}

// settings is the CLI configuration after precedence: flags, then
// environment, then the configuration file.
type settings struct{ apiHost, auth, adminAuth string }

func (x *call) settings(adminFlag string) (settings, error) {
	props, err := readProps(configPath(x.getenv))
	if err != nil {
		return settings{}, err
	}
	pick := func(flag, env, prop string) string {
		for _, v := range []string{flag, x.getenv(env), props[prop]} {
			if v != "" {
				return v
			}
		}
		return ""
	}
	return settings{
		apiHost:   pick(x.flags.apiHost, envAPIHost, propAPIHost),
		auth:      pick(x.flags.auth, envAuth, propAuth),
		adminAuth: pick(adminFlag, envAdminAuth, propAdminAuth),
	}, nil
}

// errNotConfigured says how to configure the CLI.
var errNotConfigured = errors.New("no API host or key configured: run `gust serve` on this machine, or set " +
	envAPIHost + " and " + envAuth + " (or pass --apihost and --auth)")

// connect makes x's client with the configured key, or with auth when it
// is set.
func (x *call) connect(auth string) error {
	s, err := x.settings("")
	if err != nil {
		return err
	}
	if auth == "" {
		auth = s.auth
	}
	if s.apiHost == "" || auth == "" {
		return &exitError{code: exitGeneral, err: errNotConfigured}
	}
	x.c, err = client.New(client.Config{APIHost: s.apiHost, Auth: auth, Insecure: x.flags.insecure, UserAgent: "gust/" + version})
	if err != nil {
		return usageError(err)
	}
	return nil
}

// ok prints wsk's "ok: ..." line.
func (x *call) ok(format string, args ...any) {
	fmt.Fprintf(x.stdout, "ok: "+format+"\n", args...)
}

// show prints resp's raw JSON with --json, else runs human.
func (x *call) show(resp *client.Response, human func() error) error {
	if x.flags.json {
		return x.raw(resp.Body)
	}
	return human()
}

// raw prints one JSON document as it is.
func (x *call) raw(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		b = []byte("{}")
	}
	_, err := fmt.Fprintf(x.stdout, "%s\n", b)
	return err
}

// pretty prints JSON indented by four spaces, as wsk does, keeping the
// server's field order.
func (x *call) pretty(b []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(b), "", "    "); err != nil {
		return x.raw(b)
	}
	buf.WriteByte('\n')
	_, err := x.stdout.Write(buf.Bytes())
	return err
}

// prettySorted prints JSON as pretty does but with object keys sorted, as
// wsk prints what it decoded into maps (invocation answers).
func (x *call) prettySorted(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return x.raw(b)
	}
	enc := json.NewEncoder(x.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	return enc.Encode(v)
}

// failure is a client command's error: what failed, in wsk's words, and
// why.
type failure struct {
	what string
	err  error
}

func (f *failure) Error() string { return f.what + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// fail wraps err as wsk reports it ("Unable to get action 'x': ...") with
// wsk's exit code.
func fail(err error, format string, args ...any) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitCodeOf(err), err: &failure{what: fmt.Sprintf(format, args...), err: err}}
}

// exitCodeOf is wsk's exit code for err: the HTTP status for answers of
// the server (mod 256, as the shell sees it), exitNetwork when the server
// could not be reached.
func exitCodeOf(err error) int {
	var apiErr *client.Error
	var actErr *client.ActivationError
	var urlErr *url.Error
	switch {
	case errors.As(err, &apiErr):
		if c := apiErr.StatusCode & 0xff; c != 0 {
			return c
		}
	case errors.As(err, &actErr):
		return 502 & 0xff
	case errors.As(err, &urlErr):
		return exitNetwork
	}
	return exitGeneral
}

// usageError is a mistake on the command line.
func usageError(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitUsage, err: err}
}

// listRow prints one row of wsk's entity lists: "/ns/name", then the
// publish state (padded to statePad) and the extra columns.
func (x *call) listRow(namespace, name string, publish bool, statePad int, extra ...string) {
	state := "private"
	if publish {
		state = "shared"
	}
	cols := append([]string{fmt.Sprintf("%-70s", "/"+namespace+"/"+name), fmt.Sprintf("%-*s", statePad, state)}, extra...)
	fmt.Fprintln(x.stdout, strings.TrimRight(strings.Join(cols, " "), " "))
}

// article is "a" or "an" for kind.
func article(kind string) string {
	if strings.ContainsAny(kind[:1], "aeiou") {
		return "an " + kind
	}
	return "a " + kind
}

// quantity is n and noun, plural unless n is 1: "1 event", "3 events".
func quantity(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
