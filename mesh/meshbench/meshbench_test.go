package meshbench

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// TestMain lets this test binary act as the children process of the
// memory measurement.
func TestMain(m *testing.M) {
	if ran, err := ChildrenMain(); ran {
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func spawnSelf() *exec.Cmd { return exec.Command(os.Args[0], "-test.run=^$") }

// TestQuickRun runs every measurement once in quick mode: the figures are
// not asserted (timings are never asserted in tests), only that each
// measurement completes and reports a positive value.
func TestQuickRun(t *testing.T) {
	rs, err := All(context.Background(), Options{Quick: true, Spawn: spawnSelf})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 7 {
		t.Fatalf("%d results", len(rs))
	}
	for _, r := range rs {
		t.Logf("%-34s %10.2f %-5s baseline %10.2f  %s", r.Name, r.Value, r.Unit, r.Baseline, r.Note)
		if r.Value <= 0 {
			t.Errorf("%s: value %v", r.Name, r.Value)
		}
	}
}
