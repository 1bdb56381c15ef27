package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/canopy-fleet/canopy/kernel/api"
)

func newTokenListCmd() *cobra.Command {
	var (
		cf     clientFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "list [-o table|json|yaml]",
		Short: "List the tokens the controller remembers (never their secrets)",
		Long: `List the join and API tokens the controller remembers: id (the part before the
dot), role, state (valid, used, expired or revoked), when it was created and when
it expires. Expired tokens are forgotten a day after they expire. Secrets are kept
only hashed and are never shown.`,
		Example: `  canopy token list
  canopy token list -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			var list api.TokenList
			if err := callAPI(cmd, &cf, http.MethodGet, "/api/v1/tokens", nil, &list); err != nil {
				return fmt.Errorf("list tokens: %w", err)
			}
			return printTokens(cmd.OutOrStdout(), list, output, time.Now())
		},
	}
	fs := cmd.Flags()
	cf.register(fs)
	fs.StringVarP(&output, "output", "o", "table", "table, json or yaml")
	return cmd
}

// printTokens writes list as a table or whole as JSON or YAML.
func printTokens(w io.Writer, list api.TokenList, output string, now time.Time) error {
	if done, err := writeAs(w, list, output); done {
		return err
	}
	tw := tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tSTATE\tAGE\tEXPIRES")
	for _, t := range list.Tokens {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.State, lastSeenCell(t.Created, now), t.Expires.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// tokenArgRE is what `token revoke` takes: an id, or a whole token (only
// its id is sent).
var tokenArgRE = regexp.MustCompile(`^[a-z0-9]{6}(\.[a-z0-9]+)?$`)

func newTokenRevokeCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "revoke ID [ID...]",
		Short: "Revoke tokens: a device can no longer join, a client no longer call the API",
		Long: `Revoke join or API tokens by id (the 6 characters before the dot, as 'canopy
token list' shows; a whole token works too, and only its id is sent). A revoked
join token no longer joins a device; nodes that already joined with it keep their
certificates (remove one with 'canopy delete node NAME'). A revoked API token is
refused at once. An operator token may revoke join, operator and viewer tokens;
admin tokens need an admin token.`,
		Example: `  canopy token revoke k3x9qa
  canopy token revoke k3x9qa 7hd02m`,
		Args: usageArgs(func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("token revoke: want one or more token ids")
			}
			for _, a := range args {
				if !tokenArgRE.MatchString(a) {
					return fmt.Errorf("token revoke: %q is not a token id (6 characters of a-z and 0-9, as 'canopy token list' shows)", a)
				}
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			defer c.http.CloseIdleConnections()
			for _, a := range args {
				id, _, _ := strings.Cut(a, ".")
				var info api.TokenInfo
				if err := c.do(cmd.Context(), http.MethodDelete, "/api/v1/tokens/"+id, nil, &info); err != nil {
					return fmt.Errorf("revoke token %s: %w", id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token %s (%s) revoked\n", info.ID, info.Role)
			}
			return nil
		},
	}
	cf.register(cmd.Flags())
	return cmd
}
