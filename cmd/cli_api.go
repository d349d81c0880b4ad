package gustcmd

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/api/client"
)

func init() { cliCommands = append(cliCommands, newAPICmd) }

// newAPICmd is wsk's `api`: routes from HTTP paths to web actions, served
// on /api/<namespace>/<base path>/<path>.
func newAPICmd(e *env) *cobra.Command {
	var responseType, apiName, configFile string
	return group(e, "api", "Work with API routes to web actions", true,
		leaf{use: "create BASE_PATH PATH VERB ACTION", short: "Route VERB BASE_PATH/PATH to a web action (or: --config-file swagger.json)", maxArgs: 4,
			flags: func(fs *pflag.FlagSet) {
				fs.StringVar(&responseType, "response-type", "json", "how the route answers: json, http, html, svg or text")
				fs.StringVarP(&apiName, "apiname", "n", "", "the API's name (default: its base path)")
				fs.StringVarP(&configFile, "config-file", "c", "", "create the API a swagger 2.0 `FILE` describes")
			},
			run: func(x *call, args []string) error {
				if configFile != "" {
					if len(args) > 0 {
						return usageError(fmt.Errorf("give either --config-file or BASE_PATH PATH VERB ACTION, not both"))
					}
					doc, err := os.ReadFile(configFile)
					if err != nil {
						return usageError(err)
					}
					v, resp, err := x.c.CreateAPIFromSwagger(x.ctx, doc, responseType)
					if err != nil {
						return fail(err, "Unable to create the API of %s", configFile)
					}
					return x.show(resp, func() error {
						x.ok("created API %s", v.Doc.BasePath)
						printRoutes(x, []client.APIValue{*v})
						return nil
					})
				}
				if len(args) != 4 {
					return usageError(fmt.Errorf("api create needs BASE_PATH PATH VERB ACTION, e.g. /library /books/{id} get book"))
				}
				rt := client.APIRoute{BasePath: args[0], Path: args[1], Method: args[2], Action: args[3], ResponseType: responseType, APIName: apiName}
				v, resp, err := x.c.CreateAPI(x.ctx, rt)
				if err != nil {
					return fail(err, "Unable to create API route %s %s%s", strings.ToUpper(rt.Method), rt.BasePath, rt.Path)
				}
				return x.show(resp, func() error {
					x.ok("created API %s%s %s for action %s", rt.BasePath, rt.Path, strings.ToUpper(rt.Method), rt.Action)
					fmt.Fprintln(x.stdout, v.URL+rt.Path)
					return nil
				})
			}},
		leaf{use: "list [BASE_PATH|API_NAME [PATH [VERB]]]", short: "List the API routes", maxArgs: 3,
			run: func(x *call, args []string) error {
				args = append(args, "", "", "")
				apis, resp, err := x.c.ListAPIs(x.ctx, args[0], args[1], args[2])
				if err != nil {
					return fail(err, "Unable to obtain the API list")
				}
				return x.show(resp, func() error {
					x.ok("APIs")
					printRoutes(x, apis)
					return nil
				})
			}},
		leaf{use: "get BASE_PATH|API_NAME", short: "Show an API's swagger document", minArgs: 1, maxArgs: 1,
			run: func(x *call, args []string) error {
				apis, resp, err := x.c.ListAPIs(x.ctx, args[0], "", "")
				if err != nil {
					return fail(err, "Unable to obtain the API %s", args[0])
				}
				if len(apis) == 0 {
					return fail(fmt.Errorf("API '%s' does not exist", args[0]), "Unable to obtain the API %s", args[0])
				}
				return x.show(resp, func() error {
					var all struct {
						APIs []struct {
							Value struct {
								Doc json.RawMessage `json:"apidoc"`
							} `json:"value"`
						} `json:"apis"`
					}
					if err := json.Unmarshal(resp.Body, &all); err != nil || len(all.APIs) == 0 {
						return fail(fmt.Errorf("unexpected answer: %s", resp.Body), "Unable to obtain the API %s", args[0])
					}
					return x.pretty(all.APIs[0].Value.Doc)
				})
			}},
		leaf{use: "delete BASE_PATH|API_NAME [PATH [VERB]]", short: "Delete an API, or its routes of PATH (and VERB)", minArgs: 1, maxArgs: 3,
			run: func(x *call, args []string) error {
				args = append(args, "", "")
				if _, err := x.c.DeleteAPI(x.ctx, args[0], args[1], args[2]); err != nil {
					return fail(err, "Unable to delete API %s", strings.TrimSpace(strings.Join(args, " ")))
				}
				x.ok("deleted API %s", strings.TrimSpace(strings.Join(args, " ")))
				return nil
			}},
	)
}

// printRoutes prints one line per route: action, verb, API name and URL.
func printRoutes(x *call, apis []client.APIValue) {
	fmt.Fprintf(x.stdout, "%-30s %-7s %-20s %s\n", "Action", "Verb", "API Name", "URL")
	for _, a := range apis {
		paths := make([]string, 0, len(a.Doc.Paths))
		for p := range a.Doc.Paths {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			verbs := make([]string, 0, len(a.Doc.Paths[p]))
			for v := range a.Doc.Paths[p] {
				verbs = append(verbs, v)
			}
			sort.Strings(verbs)
			for _, v := range verbs {
				fmt.Fprintf(x.stdout, "%-30s %-7s %-20s %s\n", a.Doc.Paths[p][v].ActionName(), v, a.Doc.Info.Title, a.URL+p)
			}
		}
	}
}
