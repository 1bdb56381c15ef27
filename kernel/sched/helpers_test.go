package sched_test

import (
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// node builds a ready leaf: a Pi 4 class board, idle and cool, under gw.
func node(name, gw string, mods ...func(*kernel.Node)) kernel.Node {
	n := kernel.Node{
		Name: kernel.NodeName(name), Role: kernel.RoleLeaf, Parent: kernel.NodeName(gw),
		Labels: map[string]string{"site": "plant-1", "tier": "leaf"},
		Capability: kernel.Capability{
			OS: "linux", Arch: "arm64", Cores: 4, Memory: 4 * kernel.GiB, Score: 600,
			Devices: []kernel.Device{{Kind: kernel.DeviceGPIO}},
			Live: kernel.LiveStats{CPUPercent: 20, MemoryFree: 3 * kernel.GiB, TempC: 50, TempLimitC: 85,
				MeasuredAt: now.Add(-time.Second)},
		},
		Health:   kernel.HealthReady,
		LastSeen: now.Add(-time.Second),
		Latency:  map[kernel.NodeName]time.Duration{},
	}
	if gw != "" {
		n.Latency[kernel.NodeName(gw)] = 2 * time.Millisecond
	}
	for _, m := range mods {
		m(&n)
	}
	return n
}

// tree is a controller, gateways gw-a and gw-b, and the leaves given.
func tree(leaves ...kernel.Node) []kernel.Node {
	nodes := []kernel.Node{
		node("ctl", "", func(n *kernel.Node) {
			n.Role = kernel.RoleController
			n.Capability.Memory = 32 * kernel.GiB
			n.Labels = map[string]string{"tier": "controller"}
		}),
		node("gw-a", "ctl", func(n *kernel.Node) {
			n.Role = kernel.RoleGateway
			n.Labels = map[string]string{"site": "plant-1", "tier": "gateway"}
			n.Latency["ctl"] = 20 * time.Millisecond
		}),
		node("gw-b", "ctl", func(n *kernel.Node) {
			n.Role = kernel.RoleGateway
			n.Labels = map[string]string{"site": "plant-2", "tier": "gateway"}
			n.Latency["ctl"] = 30 * time.Millisecond
		}),
	}
	return append(nodes, leaves...)
}

// dep builds a valid deployment with defaults.
func dep(name string, mods ...func(*kernel.Deployment)) kernel.Deployment {
	d := kernel.Deployment{APIVersion: kernel.APIVersion, Kind: kernel.KindDeployment, Name: name, Module: "./m.wasm"}
	d.SetDefaults()
	for _, m := range mods {
		m(&d)
	}
	if err := d.Validate(); err != nil {
		panic(err)
	}
	return d
}

func cluster(t testing.TB, snap *sched.Snapshot, cfg sched.Config) *sched.Cluster {
	t.Helper()
	c, err := sched.NewCluster(snap, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func place(t testing.TB, c *sched.Cluster, d kernel.Deployment) *sched.Decision {
	t.Helper()
	dec, err := c.Place(&sched.Request{Deployment: d, Version: 1, Now: now, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

// verdict returns the explanation of one node.
func verdict(t testing.TB, dec *sched.Decision, name string) sched.NodeExplanation {
	t.Helper()
	for _, n := range dec.Explanation.Nodes {
		if string(n.Node) == name {
			return n
		}
	}
	t.Fatalf("no explanation for node %s", name)
	return sched.NodeExplanation{}
}

// placedOn lists the nodes new replicas go to (placements and moves).
func placedOn(dec *sched.Decision) []string {
	var out []string
	for _, p := range dec.Plan.Place {
		out = append(out, string(p.Node))
	}
	for _, m := range dec.Plan.Move {
		out = append(out, string(m.To.Node))
	}
	return out
}

func component(x sched.NodeExplanation, name string) float64 {
	for _, s := range x.Scores {
		if s.Name == name {
			return s.Value
		}
	}
	return -1
}
