// Command canopy is the one binary every Canopy device runs: controller,
// gateway, leaf, the local task runner and the client CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

func main() {
	// Process-wide, so first, before any TLS connection of the process.
	if err := quicnet.SetCipherPreference(os.Getenv(quicnet.CipherEnv)); err != nil {
		os.Exit(exitCode(usageError{err}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	os.Exit(exitCode(err))
}

// usageError marks wrong usage: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode prints err (one line first) and maps it to CONTRACT.md's codes.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "canopy: "+err.Error())
	return exitCodeQuiet(err)
}

// exitCodeQuiet maps err to CONTRACT.md's exit codes: 2 for wrong usage, 1
// for any other failure.
func exitCodeQuiet(err error) int {
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
