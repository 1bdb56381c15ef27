//go:build race

package tasktest

// raceEnabled: the race detector slows the host side of every call (the
// host functions and the Go runtime's WASI calls) several times over.
const raceEnabled = true
