package fleetgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// deployment is a valid manifest with defaults set.
func deployment(name string) kernel.Deployment {
	d := kernel.Deployment{
		APIVersion: kernel.APIVersion, Kind: kernel.KindDeployment, Name: name,
		Module: "./" + name + ".wasm",
	}
	d.SetDefaults()
	return d
}

// placeExisting gives the fleet cfg.Existing deployments whose replicas
// already run on leaves, with measured usage, filling at most half of each
// node's memory (cfg.Fill of it).
func (f *Fleet) placeExisting(r *rand.Rand, cfg Config, now time.Time) {
	nodes := f.Snapshot.Nodes
	budget := make([]kernel.Bytes, len(nodes))
	var leaves []int
	for i := range nodes {
		budget[i] = kernel.Bytes(float64(nodes[i].Capability.Memory-64*kernel.MiB) * cfg.Fill)
		if nodes[i].Role == kernel.RoleLeaf {
			leaves = append(leaves, i)
		}
	}
	if len(leaves) == 0 {
		return
	}
	prios := []int{0, 0, 10, 50, 50, 100, 200, 500, 900}
	for k := range cfg.Existing {
		d := deployment(fmt.Sprintf("app-%04d", k))
		d.Priority = prios[r.IntN(len(prios))]
		d.Limits.Memory = kernel.Bytes(64*kernel.KiB) * kernel.Bytes(64+r.IntN(int(cfg.TaskMemory/(64*kernel.KiB))-63))
		d.Replicas = 1 + r.IntN(8)
		f.Snapshot.Deployments = append(f.Snapshot.Deployments, d)
		peak := kernel.Bytes(float64(d.Limits.Memory) * (0.2 + 0.7*r.Float64()))
		cpuPerMsg := time.Duration(50+r.IntN(2000)) * time.Microsecond
		rate := 0.1 + 20*r.Float64()*r.Float64()
		used := map[int]bool{}
		for rep := 0; rep < d.Replicas; rep++ {
			var i int
			found := false
			for range 32 {
				i = leaves[r.IntN(len(leaves))]
				if !used[i] && budget[i] >= d.Limits.Memory && nodes[i].Health == kernel.HealthReady {
					found = true
					break
				}
			}
			if !found {
				continue
			}
			used[i] = true
			budget[i] -= d.Limits.Memory
			state := kernel.TaskRunning
			if r.IntN(20) == 0 {
				state = kernel.TaskPending
			}
			t := kernel.Task{
				ID:         kernel.TaskID(fmt.Sprintf("%s-v1-%s", d.Name, nodes[i].Name)),
				Deployment: d.Name, Version: 1, Node: nodes[i].Name, State: state,
				StartedAt: now.Add(-time.Duration(1+r.IntN(3600)) * time.Second),
			}
			if state == kernel.TaskRunning {
				t.Usage = kernel.TaskUsage{
					CPUPerMessage: cpuPerMsg, MemoryPeak: peak, MessageRate: rate,
					Messages: uint64(1 + r.IntN(100000)),
				}
			}
			f.Snapshot.Tasks = append(f.Snapshot.Tasks, t)
		}
	}
}

// Workload returns count deployments to place on the fleet, a mix of what
// edge fleets run: site-local sensor processing near its sensors, fleet-wide
// services on capable arm64 boards, GPU and NPU inference, memory-hungry
// high-priority jobs, per-gateway aggregators and zone-spread services.
func (f *Fleet) Workload(count int, seed uint64) []kernel.Deployment {
	r := rand.New(rand.NewPCG(seed, 0x10ad))
	out := make([]kernel.Deployment, 0, count)
	site := func() string { return f.Sites[r.IntN(len(f.Sites))] }
	for k := range count {
		d := deployment(fmt.Sprintf("new-%05d", k))
		d.Priority = []int{0, 50, 100, 300}[r.IntN(4)]
		d.Limits.Memory = kernel.Bytes(8+r.IntN(56)) * kernel.MiB
		switch x := r.IntN(10); {
		case x < 4 && len(f.Sites) > 0:
			s := site()
			kind := SensorKinds[r.IntN(len(SensorKinds))]
			d.Selector.Labels = map[string]string{"site": s}
			d.Near = &kernel.Near{Topic: fmt.Sprintf("sensors/%s/+/%s", s, kind), MaxLatency: kernel.Duration(40 * time.Millisecond)}
			d.Subscribe = []kernel.Subscription{{Topic: d.Near.Topic}}
			d.Replicas = 1 + r.IntN(3)
		case x < 6:
			d.Selector.Arch = []string{"arm64"}
			d.Requires.Score = 300
			d.Replicas = 2 + r.IntN(9)
		case x < 7:
			d.Requires.Devices = []kernel.DeviceKind{[]kernel.DeviceKind{kernel.DeviceGPU, kernel.DeviceNPU, kernel.DeviceCamera}[r.IntN(3)]}
			d.Replicas = 1 + r.IntN(4)
		case x < 8:
			d.Requires.Memory = 256 * kernel.MiB
			d.Priority = 800
			d.Replicas = 1 + r.IntN(5)
		case x < 9 && len(f.Gateways) > 0:
			g := f.Gateways[r.IntN(len(f.Gateways))]
			d.Near = &kernel.Near{Node: g}
			d.Replicas = 1 + r.IntN(2)
		default:
			d.Near = &kernel.Near{Label: "zone=" + f.Zones[r.IntN(len(f.Zones))]}
			d.Replicas = 3 + r.IntN(18)
		}
		if d.Rollout.Canary > d.Replicas {
			d.Rollout.Canary = d.Replicas
		}
		out = append(out, d)
	}
	return out
}
