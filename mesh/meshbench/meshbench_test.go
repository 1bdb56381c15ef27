package meshbench

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// TestMain lets this test binary act as the children process of the
// memory measurement. The measurements run with the TLS cipher
// preference canopy's main sets.
func TestMain(m *testing.M) {
	if err := quicnet.SetCipherPreference(os.Getenv(quicnet.CipherEnv)); err != nil {
		panic(err)
	}
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

// The transport's floor under the memory figure runs: bare quicnet
// connections from another process, all of them linked.
func TestQuickTransportMemory(t *testing.T) {
	rs, err := IdleLinkMemory(context.Background(), Options{Quick: true, Spawn: spawnSelf, Transport: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Value <= 0 || !strings.Contains(rs[0].Name, "transport alone") {
		t.Fatalf("results %+v", rs)
	}
	t.Log(rs[0].Note)
}
