package devbench

import (
	"os"
	"os/exec"
	"testing"
)

// TestMain lets this test binary act as the pipeline's load generator
// (LoadGenMain) when the tests and benchmarks spawn it.
func TestMain(m *testing.M) {
	if ran, err := LoadGenMain(); ran {
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func spawnSelf() *exec.Cmd { return exec.Command(os.Args[0], "-test.run=^$") }
