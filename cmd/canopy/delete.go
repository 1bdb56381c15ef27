package main

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/api"
)

// deleteResources are the kinds `canopy delete` removes, by every name it
// takes. CONTRACT.md's deployments join when the API serves them.
var deleteResources = map[string]string{"node": "nodes", "nodes": "nodes", "no": "nodes"}

func newDeleteCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "delete node NAME",
		Short: "Remove a node from the cluster: revoke its certificates and drop its links",
		Long: `Remove a node from the cluster. Every certificate the controller issued to it
that has not expired is revoked; the controller and the gateways drop its links at
once and refuse it from then on, and the controller forgets it, so the name is
free for another device. The device comes back only by joining again with a new
join token.`,
		Example: `  canopy delete node pi-7`,
		Args: usageArgs(func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("delete: want node NAME")
			}
			if _, ok := deleteResources[args[0]]; !ok {
				return fmt.Errorf("delete: unknown resource %q: want node", args[0])
			}
			if !kernel.ValidName(args[1]) {
				return fmt.Errorf("delete node: %q is not a node name (1-63 lowercase letters, digits, dashes)", args[1])
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			defer c.http.CloseIdleConnections()
			var d api.NodeDeletion
			if err := c.do(cmd.Context(), http.MethodDelete, "/api/v1/nodes/"+args[1], nil, &d); err != nil {
				return fmt.Errorf("delete node %s: %w", args[1], err)
			}
			n := len(d.RevokedCertificates)
			fmt.Fprintf(cmd.OutOrStdout(), "node %s deleted (%d certificate%s revoked)\n", d.Name, n, plural(n))
			return nil
		},
	}
	cf.register(cmd.Flags())
	return cmd
}

// plural is "s" unless n is 1.
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
