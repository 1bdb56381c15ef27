package fleetgen_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched/fleetgen"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestGenerateIsDeterministicAndShaped(t *testing.T) {
	cfg := fleetgen.Config{Nodes: 2000, Seed: 9, Controllers: 3}
	a, b := fleetgen.Generate(cfg, now), fleetgen.Generate(cfg, now)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different fleets")
	}
	if c := fleetgen.Generate(fleetgen.Config{Nodes: 2000, Seed: 10}, now); reflect.DeepEqual(a.Snapshot.Nodes, c.Snapshot.Nodes) {
		t.Fatal("different seeds, same fleet")
	}
	if len(a.Snapshot.Nodes) != 2000 {
		t.Fatalf("%d nodes", len(a.Snapshot.Nodes))
	}
	names := map[kernel.NodeName]*kernel.Node{}
	roles := map[kernel.Role]int{}
	profiles := map[string]int{}
	sensors, down := 0, 0
	for i := range a.Snapshot.Nodes {
		n := &a.Snapshot.Nodes[i]
		if names[n.Name] != nil {
			t.Fatalf("duplicate %s", n.Name)
		}
		names[n.Name] = n
		roles[n.Role]++
		profiles[n.Capability.Profile]++
		sensors += len(n.Capability.Sensors)
		if n.Health == kernel.HealthDown {
			down++
		}
	}
	for i := range a.Snapshot.Nodes {
		n := &a.Snapshot.Nodes[i]
		if n.Role != kernel.RoleController && names[n.Parent] == nil {
			t.Fatalf("%s has no parent", n.Name)
		}
		if _, ok := n.Latency[n.Parent]; n.Role == kernel.RoleGateway && !ok {
			t.Fatalf("gateway %s link not measured", n.Name)
		}
	}
	if roles[kernel.RoleController] != 3 || roles[kernel.RoleGateway] != 20 || len(profiles) < len(fleetgen.LeafProfiles) {
		t.Fatalf("roles %v, profiles %v", roles, profiles)
	}
	if sensors == 0 || down == 0 || len(a.Sites) == 0 {
		t.Fatalf("sensors %d, down %d, sites %d", sensors, down, len(a.Sites))
	}
	// Existing tasks fit: at most half of each node's memory by limits.
	limits := map[string]kernel.Bytes{}
	for _, d := range a.Snapshot.Deployments {
		if err := d.Validate(); err != nil {
			t.Fatalf("existing deployment %s: %v", d.Name, err)
		}
		limits[d.Name] = d.Limits.Memory
	}
	used := map[kernel.NodeName]kernel.Bytes{}
	for _, tk := range a.Snapshot.Tasks {
		used[tk.Node] += limits[tk.Deployment]
	}
	for n, u := range used {
		if u > (names[n].Capability.Memory-64*kernel.MiB)/2 {
			t.Fatalf("%s filled to %s of %s", n, u, names[n].Capability.Memory)
		}
	}
	for _, d := range a.Workload(200, 1) {
		if err := d.Validate(); err != nil {
			t.Fatalf("workload deployment %s: %v", d.Name, err)
		}
	}
}
