//go:build !race

package tasktest

const raceEnabled = false
