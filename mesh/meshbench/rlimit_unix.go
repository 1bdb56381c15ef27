//go:build unix

package meshbench

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises the soft open-file limit to at least n (each child
// link in the memory benchmark holds a UDP socket).
func raiseFileLimit(n uint64) error {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if r.Cur >= n {
		return nil
	}
	if r.Max < n {
		return fmt.Errorf("open-file limit %d is below the %d this benchmark needs (raise ulimit -n)", r.Max, n)
	}
	r.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	return nil
}
