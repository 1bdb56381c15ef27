package main

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// run builds the command tree and executes it with args.
func run(ctx context.Context, args []string) error {
	root := newRootCmd(os.Stdout, os.Stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// newRootCmd builds the whole CLI writing to stdout and stderr, so tests can
// run it in-process.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "canopy",
		Short:         "Canopy runs WebAssembly tasks on fleets of edge devices",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCmd(),
		newRunCmd(),
		newBenchCmd(),
		newServerCmd(),
		newAgentCmd(),
		newTokenCmd(),
		newGetCmd(),
		newDeleteCmd(),
		newDescribeCmd(),
	)
	return root
}

// usageArgs wraps a cobra positional-args check so that its failure exits 2.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
