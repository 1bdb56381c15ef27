package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/canopy-fleet/canopy/kernel/api"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke join tokens for devices and API tokens for people and scripts",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("token: want a subcommand: create, list or revoke")}
		},
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenListCmd(), newTokenRevokeCmd())
	return cmd
}

func newTokenCreateCmd() *cobra.Command {
	var (
		cf     clientFlags
		role   string
		ttl    time.Duration
		output string
	)
	cmd := &cobra.Command{
		Use:   "create --role agent|gateway|operator|viewer [--ttl D]",
		Short: "Create a token; for a join token, print the command to run on the device",
		Long: `Create a token on the controller. A join token (--role agent or gateway) is
single-use and short-lived (default 15m); the command prints it and the exact
'canopy agent' command that joins a device with it. An API token (--role
operator or viewer, or admin with an admin token) is for 'canopy' clients and
scripts (default lifetime 720h).`,
		Example: `  canopy token create --role agent
  canopy token create --role gateway --ttl 1h -o json
  canopy token create --role viewer --ttl 24h`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch role {
			case api.TokenAgent, api.TokenGateway, api.TokenOperator, api.TokenViewer, api.TokenAdmin:
			case "":
				return usageError{fmt.Errorf("--role is required: agent, gateway, operator or viewer")}
			default:
				return usageError{fmt.Errorf("--role %q: want agent, gateway, operator or viewer", role)}
			}
			if ttl < 0 {
				return usageError{fmt.Errorf("--ttl %s: must be positive", ttl)}
			}
			if err := checkOutput(output, "text", "json", "yaml"); err != nil {
				return err
			}
			body := map[string]string{"role": role}
			if ttl > 0 {
				body["ttl"] = ttl.String()
			}
			var tok api.Token
			if err := callAPI(cmd, &cf, http.MethodPost, "/api/v1/tokens", body, &tok); err != nil {
				return fmt.Errorf("create token: %w", err)
			}
			return printToken(cmd.OutOrStdout(), tok, output)
		},
	}
	fs := cmd.Flags()
	cf.register(fs)
	fs.StringVar(&role, "role", "", "agent or gateway (join tokens), operator or viewer (API tokens)")
	fs.DurationVar(&ttl, "ttl", 0, "lifetime (default 15m for join tokens, 720h for API tokens)")
	fs.StringVarP(&output, "output", "o", "text", "text, json or yaml")
	return cmd
}

// joinCommand is the command a device runs to join with tok, or "" for an
// API token.
func joinCommand(tok api.Token) string {
	if tok.Join == nil {
		return ""
	}
	args := []string{"canopy", "agent", "--join", tok.Join.Addr, "--token", tok.Token, "--ca-hash", tok.Join.CAHash}
	if tok.Role == api.TokenGateway {
		args = append(args, "--gateway")
	}
	return strings.Join(args, " ")
}

func printToken(w io.Writer, tok api.Token, output string) error {
	out := struct {
		api.Token   `yaml:",inline"`
		JoinCommand string `json:"joinCommand,omitempty" yaml:"joinCommand,omitempty"`
	}{tok, joinCommand(tok)}
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "yaml":
		return yaml.NewEncoder(w).Encode(map[string]any{
			"token": tok.Token, "role": tok.Role, "expires": tok.Expires.Format(time.RFC3339),
			"joinCommand": out.JoinCommand,
		})
	}
	fmt.Fprintln(w, tok.Token)
	if out.JoinCommand != "" {
		fmt.Fprintf(w, "# on the device (valid until %s, once):\n%s\n", tok.Expires.Local().Format(time.DateTime), out.JoinCommand)
	} else {
		fmt.Fprintf(w, "# %s token, valid until %s\n", tok.Role, tok.Expires.Local().Format(time.DateTime))
	}
	return nil
}
