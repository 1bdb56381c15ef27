package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at link time: -ldflags "-X main.version=v0.1.0 -X main.commit=abc".
var (
	version = "dev"
	commit  = ""
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit, Go version and os/arch",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := commit
			if c == "" {
				c = vcsRevision()
			}
			fmt.Fprintf(cmd.OutOrStdout(), "canopy %s (commit %s) %s %s/%s\n",
				version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func vcsRevision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
