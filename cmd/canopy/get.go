package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/canopy-fleet/canopy/kernel/api"
)

// getResources are the kinds `canopy get` lists, by every name it takes.
// CONTRACT.md's tasks and deployments join when the API serves them.
var getResources = map[string]string{"nodes": "nodes", "node": "nodes", "no": "nodes"}

func newGetCmd() *cobra.Command {
	var (
		cf     clientFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "get nodes [-o table|json|yaml]",
		Short: "List what the controller knows: nodes",
		Long: `List what the controller knows. 'canopy get nodes' prints every node: the
controller, the nodes that joined through it and any node its mesh reaches, with
role, parent, state (linked or lost), round trip to the parent, version, how long
ago it last reported and labels. -o json and -o yaml print every field the API
answers (GET /api/v1/nodes).`,
		Example: `  canopy get nodes
  canopy get nodes -o json`,
		ValidArgs: []string{"nodes"},
		Args:      usageArgs(getArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			var list api.NodeList
			if err := callAPI(cmd, &cf, http.MethodGet, "/api/v1/nodes", nil, &list); err != nil {
				return fmt.Errorf("get nodes: %w", err)
			}
			return printNodes(cmd.OutOrStdout(), list, output, time.Now())
		},
	}
	fs := cmd.Flags()
	cf.register(fs)
	fs.StringVarP(&output, "output", "o", "table", "table, json or yaml")
	return cmd
}

// getArgs wants exactly one resource kind `canopy get` lists.
func getArgs(_ *cobra.Command, args []string) error {
	valid := "want nodes"
	if len(args) != 1 {
		return fmt.Errorf("get: %s (one resource kind)", valid)
	}
	if _, ok := getResources[args[0]]; !ok {
		return fmt.Errorf("get: unknown resource %q: %s", args[0], valid)
	}
	return nil
}

// printNodes writes list as a table (like kubectl's) or whole as JSON or YAML.
func printNodes(w io.Writer, list api.NodeList, output string, now time.Time) error {
	if done, err := writeAs(w, list, output); done {
		return err
	}
	tw := tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tPARENT\tSTATE\tRTT\tVERSION\tLAST-SEEN\tLABELS")
	for _, n := range list.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, orNone(n.Role), orNone(n.Parent), n.State,
			rttCell(n.RTTMillis), orNone(n.Version), lastSeenCell(n.LastSeen, now), labelsCell(n.Labels))
	}
	return tw.Flush()
}

// writeYAMLOf writes v as YAML with the field names and order of its JSON
// form (API types carry JSON tags only).
func writeYAMLOf(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	blockStyle(&doc) // JSON parses as flow style and quoted strings
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func rttCell(ms float64) string {
	switch {
	case ms <= 0:
		return "<none>"
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func labelsCell(labels map[string]string) string {
	if len(labels) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + labels[k])
	}
	return b.String()
}

// lastSeenCell is how long before now t was, as kubectl prints ages; a
// node that has not reported since the controller started is <unknown>.
func lastSeenCell(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return humanDuration(now.Sub(t))
}

// humanDuration rounds d the way kubectl's AGE column does: more precision
// for short ages, two units at most.
func humanDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s < 0 {
		s = 0 // a clock a little ahead of this one
	}
	m, h, days := s/60, s/3600, s/86400
	two := func(a int64, ua string, b int64, ub string) string {
		if b == 0 {
			return fmt.Sprintf("%d%s", a, ua)
		}
		return fmt.Sprintf("%d%s%d%s", a, ua, b, ub)
	}
	switch {
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case m < 10:
		return two(m, "m", s%60, "s")
	case m < 180:
		return fmt.Sprintf("%dm", m)
	case h < 8:
		return two(h, "h", m%60, "m")
	case h < 48:
		return fmt.Sprintf("%dh", h)
	case h < 24*8:
		return two(days, "d", h%24, "h")
	case days < 365*2:
		return fmt.Sprintf("%dd", days)
	case days < 365*8:
		return two(days/365, "y", days%365, "d")
	}
	return fmt.Sprintf("%dy", days/365)
}
