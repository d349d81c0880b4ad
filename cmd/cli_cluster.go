package gustcmd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gusthub/gust/hub"
)

func init() { cliCommands = append(cliCommands, newClusterCmd) }

func newClusterCmd(e *env) *cobra.Command {
	var adminAuth string
	return group(e, "cluster", "See the cluster of Gust processes and NATS servers", true,
		leaf{use: "status", short: "Show the NATS nodes, JetStream leaders and replicas, and the Gust processes with their load (needs the admin key)", maxArgs: 0,
			flags: func(fs *pflag.FlagSet) { adminAuthFlag(fs, &adminAuth) },
			run: func(x *call, _ []string) error {
				if err := x.connectAdmin(adminAuth); err != nil {
					return err
				}
				resp, err := x.c.Do(x.ctx, http.MethodGet, "/api/v1/cluster", nil, nil)
				if err != nil {
					return fail(err, "Unable to get the cluster's status")
				}
				return x.show(resp, func() error {
					var st hub.ClusterStatus
					if err := json.Unmarshal(resp.Body, &st); err != nil {
						return fail(err, "Unable to read the cluster's status")
					}
					printClusterStatus(x, st)
					return nil
				})
			}},
	)
}

// printClusterStatus writes st as tables: nodes, processes, invokers,
// streams.
func printClusterStatus(x *call, st hub.ClusterStatus) {
	cluster := st.Cluster
	if cluster == "" {
		cluster = "(a NATS server alone)"
	}
	leader := st.MetaLeader
	if leader == "" {
		leader = "none known"
	}
	fmt.Fprintf(x.stdout, "cluster %s, seen from %s; JetStream meta leader: %s; replicas: %d\n", cluster, st.Server, leader, st.Replicas)
	for _, e := range st.Errors {
		fmt.Fprintf(x.stdout, "warning: %s\n", e)
	}
	tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nNODE\tSTATE\tROLES\tLAST SEEN")
	for _, n := range st.Nodes {
		state := "offline"
		switch {
		case n.Online && n.Current:
			state = "online"
		case n.Online:
			state = "online, catching up"
		}
		if n.Name == st.MetaLeader {
			state += ", meta leader"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, state, orDash(strings.Join(n.Roles, ",")), orDash(n.LastSeen))
	}
	fmt.Fprintln(tw, "\nPROCESS\tROLE\tSERVER\tHOST\tPID\tAPI")
	for _, p := range st.Processes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.ID, p.Role, p.Server, p.Host, p.PID, orDash(p.API))
	}
	fmt.Fprintln(tw, "\nINVOKER\tSERVER\tMEMORY MB\tCONTAINERS\tBUSY\tIN FLIGHT\tWARM ACTIONS")
	for _, p := range st.Processes {
		if l := p.Invoker; l != nil {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%d\t%d\t%s\n", p.ID, p.Server, l.UsedMB, l.CapacityMB, l.Containers, l.Busy, l.InFlight, warmList(l.Warm))
		}
	}
	fmt.Fprintln(tw, "\nSTREAM\tREPLICAS\tLEADER\tFOLLOWERS\tMESSAGES")
	for _, s := range st.Streams {
		var fs []string
		for _, p := range s.Followers {
			state := "current"
			switch {
			case p.Offline:
				state = "offline"
			case !p.Current:
				state = fmt.Sprintf("behind %d", p.Lag)
			}
			fs = append(fs, p.Name+" ("+state+")")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\n", s.Name, s.Replicas, orDash(s.Leader), orDash(strings.Join(fs, ", ")), s.Messages)
	}
	_ = tw.Flush()
}

// warmList is "action×n, ..." sorted by action.
func warmList(warm map[string]int) string {
	var out []string
	for a, n := range warm {
		out = append(out, fmt.Sprintf("%s×%d", a, n))
	}
	slices.Sort(out)
	return orDash(strings.Join(out, ", "))
}
