//go:build !wasip1

package tasktest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

var (
	cacheOnce sync.Once
	cacheDir  string
	cacheErr  error
)

// sharedCache is one compilation cache directory for every Device of the
// test binary, so that a module is compiled once per test binary rather
// than once per test (compiling a Go task takes seconds). Main removes it.
func sharedCache() (string, error) {
	cacheOnce.Do(func() { cacheDir, cacheErr = os.MkdirTemp("", "canopy-examples-cache-") })
	return cacheDir, cacheErr
}

// Main runs the tests of a package that uses Device and removes the shared
// compilation cache afterwards. Call it from TestMain:
//
//	func TestMain(m *testing.M) { tasktest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if cacheDir != "" {
		if err := os.RemoveAll(cacheDir); err != nil {
			fmt.Fprintln(os.Stderr, "tasktest: remove compilation cache:", err)
		}
	}
	os.Exit(code)
}
