//go:build !unix

package ledger

import "os"

// lockFile is a no-op where flock does not exist: one process per
// directory is then up to the operator.
func lockFile(*os.File) error { return nil }
