package main

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/canopy-fleet/canopy/kernel/api"
)

// describeResources are the kinds `canopy describe` shows, by every name
// it takes. CONTRACT.md's deployments join when the API serves them.
var describeResources = map[string]string{"node": "nodes", "nodes": "nodes", "no": "nodes"}

func newDescribeCmd() *cobra.Command {
	var (
		cf     clientFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "describe node NAME [-o text|json|yaml]",
		Short: "Show one node in detail: where it is linked and every round trip it measured",
		Long: `Show one node in detail: role, parent, state, address, version, labels, when it
last reported, and the round trips it last reported, nearest first — to its
parent, its children, and the sibling gateways and alternate parents it probes
(the latency graph the controller places work by). -o json and -o yaml print
GET /api/v1/nodes/NAME whole.`,
		Example: `  canopy describe node pi-7
  canopy describe node gw-1 -o json`,
		Args: usageArgs(kindAndName("describe", describeResources)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "text", "json", "yaml"); err != nil {
				return err
			}
			var n api.Node
			if err := callAPI(cmd, &cf, http.MethodGet, "/api/v1/nodes/"+args[1], nil, &n); err != nil {
				return fmt.Errorf("describe node %s: %w", args[1], err)
			}
			return printNode(cmd.OutOrStdout(), n, output, time.Now())
		},
	}
	fs := cmd.Flags()
	cf.register(fs)
	fs.StringVarP(&output, "output", "o", "text", "text, json or yaml")
	return cmd
}

// printNode writes one node as kubectl describe does, or whole as JSON or
// YAML.
func printNode(w io.Writer, n api.Node, output string, now time.Time) error {
	if done, err := writeAs(w, n, output); done {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range [][2]string{
		{"Name:", n.Name}, {"Role:", orNone(n.Role)}, {"Parent:", orNone(n.Parent)}, {"State:", n.State},
		{"Address:", orNone(n.Addr)}, {"Version:", orNone(n.Version)}, {"Labels:", labelsCell(n.Labels)},
		{"Last seen:", lastSeenCell(n.LastSeen, now)},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", f[0], f[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(n.LatencyMillis) == 0 {
		fmt.Fprintln(w, "Round trips:\t<none reported>")
		return nil
	}
	peers := make([]string, 0, len(n.LatencyMillis))
	for p := range n.LatencyMillis {
		peers = append(peers, p)
	}
	slices.SortFunc(peers, func(a, b string) int {
		return cmp.Or(cmp.Compare(n.LatencyMillis[a], n.LatencyMillis[b]), strings.Compare(a, b))
	})
	fmt.Fprintln(w, "Round trips:")
	tw = tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "  PEER\tRTT\t")
	for _, p := range peers {
		what := ""
		if p == n.Parent {
			what = "parent"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p, rttCell(n.LatencyMillis[p]), what)
	}
	return tw.Flush()
}
