package naive_test

import (
	"slices"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched/fleetgen"
	"github.com/canopy-fleet/canopy/kernel/sched/naive"
)

// TestPlaceRespectsFilters: the baseline is a real scheduler: what it picks
// passes the selector and requirements, one replica per node, as many as
// asked when the fleet has room.
func TestPlaceRespectsFilters(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f := fleetgen.Generate(fleetgen.Config{Nodes: 600, Seed: 4}, now)
	byName := map[kernel.NodeName]*kernel.Node{}
	for i := range f.Snapshot.Nodes {
		byName[f.Snapshot.Nodes[i].Name] = &f.Snapshot.Nodes[i]
	}
	total := 0
	for _, d := range f.Workload(40, 4) {
		got := naive.Place(&f.Snapshot, &d, now)
		if len(got) > d.Replicas {
			t.Fatalf("%s: %d replicas for %d", d.Name, len(got), d.Replicas)
		}
		total += len(got)
		seen := map[kernel.NodeName]bool{}
		for _, name := range got {
			n := byName[name]
			if seen[name] || n.Health != kernel.HealthReady {
				t.Fatalf("%s: bad node %s", d.Name, name)
			}
			seen[name] = true
			for k, v := range d.Selector.Labels {
				if n.Labels[k] != v {
					t.Fatalf("%s on %s: label %s", d.Name, name, k)
				}
			}
			if len(d.Selector.Arch) > 0 && !slices.Contains(d.Selector.Arch, n.Capability.Arch) {
				t.Fatalf("%s on %s: arch", d.Name, name)
			}
			for _, k := range d.Requires.Devices {
				if !n.Capability.HasDevice(k) {
					t.Fatalf("%s on %s: device %s", d.Name, name, k)
				}
			}
		}
	}
	if total == 0 {
		t.Fatal("placed nothing")
	}
}
