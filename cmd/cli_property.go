package gustcmd

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/api/client"
)

func newPropertyCmd(e *env) *cobra.Command {
	var get struct{ apiHost, auth, namespace, all, json bool }
	var set struct{ apiHost, auth, adminAuth string }
	return group(e, "property", "Show or set the CLI configuration", false,
		leaf{use: "get", short: "Show the API host, key, namespace and build", maxArgs: 0, offline: true,
			flags: func(fs *pflag.FlagSet) {
				fs.BoolVar(&get.apiHost, "apihost", false, "show the API host")
				fs.BoolVar(&get.auth, "auth", false, "show the key")
				fs.BoolVar(&get.namespace, "namespace", false, "show the namespace")
				fs.BoolVar(&get.all, "all", false, "show everything (the default)")
				fs.BoolVar(&get.json, "json", false, "print JSON, for scripts")
			},
			run: func(x *call, _ []string) error {
				x.flags.json = get.json
				all := get.all || !get.apiHost && !get.auth && !get.namespace
				return x.properties(get.apiHost || all, get.auth || all, get.namespace || all, all)
			}},
		leaf{use: "set", short: "Write the API host or keys to the config file", maxArgs: 0, offline: true,
			flags: func(fs *pflag.FlagSet) {
				fs.StringVar(&set.apiHost, "apihost", "", "API host, e.g. http://127.0.0.1:3233")
				fs.StringVar(&set.auth, "auth", "", "namespace key uuid:secret")
				fs.StringVar(&set.adminAuth, "admin-auth", "", "admin key, for namespace create")
			},
			run: func(x *call, _ []string) error {
				return x.setProperties(set.apiHost, set.auth, set.adminAuth)
			}},
	)
}

// properties prints what property get shows, in wsk's words.
func (x *call) properties(apiHost, auth, namespace, build bool) error {
	s, err := x.settings("")
	if err != nil {
		return err
	}
	out := map[string]string{}
	var lines [][2]string
	add := func(key, label, value string) {
		out[key] = value
		lines = append(lines, [2]string{label, value})
	}
	if apiHost {
		add("apihost", "whisk API host", s.apiHost)
	}
	if auth {
		add("auth", "whisk auth", s.auth)
	}
	if namespace || build {
		if err := x.connect(""); err != nil {
			return err
		}
	}
	if namespace {
		all, _, err := x.c.Namespaces(x.ctx)
		if err != nil {
			return fail(err, "Unable to obtain the namespace")
		}
		ns := ""
		if len(all) > 0 {
			ns = all[0]
		}
		add("namespace", "whisk namespace", ns)
	}
	if build {
		info, _, err := x.c.Info(x.ctx)
		if err != nil {
			return fail(err, "Unable to obtain API build information")
		}
		add("apiVersion", "whisk API version", info.APIVersionPath)
		add("cliVersion", "whisk CLI version", version)
		add("apiBuild", "whisk API build", info.Build)
		add("apiBuildNumber", "whisk API build number", info.BuildNumber)
	}
	if x.flags.json {
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return x.raw(b)
	}
	for _, l := range lines {
		tabs := "\t\t"
		if len(l[0]) >= 16 {
			tabs = "\t"
		}
		fmt.Fprintf(x.stdout, "%s%s%s\n", l[0], tabs, l[1])
	}
	return nil
}

// setProperties writes the given settings to the config file.
func (x *call) setProperties(apiHost, auth, adminAuth string) error {
	if apiHost == "" && auth == "" && adminAuth == "" {
		return usageError(errors.New("property set needs --apihost, --auth or --admin-auth"))
	}
	if apiHost != "" {
		if _, err := client.ParseAPIHost(apiHost); err != nil {
			return usageError(err)
		}
	}
	path := configPath(x.getenv)
	props, err := readProps(path)
	if err != nil {
		return err
	}
	for key, v := range map[string]string{propAPIHost: apiHost, propAuth: auth, propAdminAuth: adminAuth} {
		if v != "" {
			props[key] = v
		}
	}
	if apiHost != "" || auth != "" {
		delete(props, propDataDir) // the file is the user's now: serve leaves it alone
	}
	if err := writeProps(path, props); err != nil {
		return err
	}
	if apiHost != "" {
		x.ok("whisk API host set to %s", apiHost)
	}
	if auth != "" {
		x.ok("whisk auth set. Run 'gust property get --auth' to see the new value.")
	}
	if adminAuth != "" {
		x.ok("admin auth set.")
	}
	return nil
}
