package main

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

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
		Args:    usageArgs(kindAndName("delete", deleteResources)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d api.NodeDeletion
			if err := callAPI(cmd, &cf, http.MethodDelete, "/api/v1/nodes/"+args[1], nil, &d); err != nil {
				return fmt.Errorf("delete node %s: %w", args[1], err)
			}
			n := len(d.RevokedCertificates)
			if n == 0 {
				// It joined before certificates were recorded and is not
				// linked now: forgotten, but its certificate still works.
				fmt.Fprintf(cmd.OutOrStdout(), "node %s deleted; no certificate of it was on record to revoke, so it can link again until its certificate expires\n", d.Name)
				return nil
			}
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
