package fleetgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
)

// Config shapes a generated fleet. Zero fields take the defaults noted.
type Config struct {
	Nodes       int     // total nodes (default 1000)
	Seed        uint64  // the same seed gives the same fleet
	Controllers int     // default 1
	Gateways    int     // default Nodes/100, at least 1
	Nested      float64 // share of gateways under another gateway (default 0.2)
	SitesPer    int     // top-level gateways per site (default 2)
	Down        float64 // share of leaves down (default 0.02)
	Drained     float64 // share of leaves drained (default 0.01)
	Existing    int     // existing deployments with tasks (default Nodes/20)
	// Fill is the largest share of each node's memory existing tasks take
	// (default 0.5).
	Fill float64
	// TaskMemory is the largest memory limit of an existing task (default
	// 64MiB).
	TaskMemory kernel.Bytes
	// Unmeasured is the share of leaf links with no latency measurement
	// (default 0.1): the scheduler falls back to its default link latency.
	Unmeasured float64
}

func (c Config) withDefaults() Config {
	if c.Nodes == 0 {
		c.Nodes = 1000
	}
	if c.Controllers == 0 {
		c.Controllers = 1
	}
	if c.Gateways == 0 {
		c.Gateways = max(c.Nodes/100, 1)
	}
	if c.Nested == 0 {
		c.Nested = 0.2
	}
	if c.SitesPer == 0 {
		c.SitesPer = 2
	}
	if c.Down == 0 {
		c.Down = 0.02
	}
	if c.Drained == 0 {
		c.Drained = 0.01
	}
	if c.Existing == 0 {
		c.Existing = max(c.Nodes/20, 1)
	}
	if c.Fill == 0 {
		c.Fill = 0.5
	}
	if c.TaskMemory == 0 {
		c.TaskMemory = 64 * kernel.MiB
	}
	if c.Unmeasured == 0 {
		c.Unmeasured = 0.1
	}
	return c
}

// Fleet is a generated snapshot and facts about it that workloads use.
type Fleet struct {
	Snapshot sched.Snapshot
	Sites    []string
	Gateways []kernel.NodeName
	Zones    []string
}

// Generate builds a fleet of cfg.Nodes nodes as of now.
func Generate(cfg Config, now time.Time) *Fleet {
	cfg = cfg.withDefaults()
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	f := &Fleet{Zones: []string{"a", "b", "c"}}
	nodes := make([]kernel.Node, 0, cfg.Nodes)
	add := func(name kernel.NodeName, role kernel.Role, parent kernel.NodeName, p Profile, labels map[string]string) *kernel.Node {
		nodes = append(nodes, kernel.Node{
			Name: name, Role: role, Parent: parent, Labels: labels,
			Capability: capability(r, p, now),
			Health:     kernel.HealthReady,
			LastSeen:   now.Add(-time.Duration(r.IntN(5000)) * time.Millisecond),
			Latency:    map[kernel.NodeName]time.Duration{},
		})
		return &nodes[len(nodes)-1]
	}
	ctrls := make([]kernel.NodeName, cfg.Controllers)
	for i := range ctrls {
		ctrls[i] = kernel.NodeName(fmt.Sprintf("ctl-%d", i))
		n := add(ctrls[i], kernel.RoleController, "", ControllerProfile, map[string]string{"tier": "controller"})
		for _, o := range ctrls[:i] {
			n.Latency[o] = ms(r, 0.2, 1)
		}
	}
	gws := min(cfg.Gateways, max(cfg.Nodes-cfg.Controllers, 0))
	gwSite := make([]string, gws)
	top := 0
	for i := range gws {
		name := kernel.NodeName(fmt.Sprintf("gw-%03d", i))
		var parent kernel.NodeName
		var site string
		if i > 0 && r.Float64() < cfg.Nested {
			j := r.IntN(i)
			parent, site = f.Gateways[j], gwSite[j]
		} else {
			parent = ctrls[r.IntN(len(ctrls))]
			site = fmt.Sprintf("plant-%d", top/cfg.SitesPer)
			if top%cfg.SitesPer == 0 {
				f.Sites = append(f.Sites, site)
			}
			top++
		}
		gwSite[i] = site
		f.Gateways = append(f.Gateways, name)
		n := add(name, kernel.RoleGateway, parent, GatewayProfile, map[string]string{"site": site, "tier": "gateway"})
		n.Latency[parent] = ms(r, 5, 60)
	}
	total := 0
	for _, p := range LeafProfiles {
		total += p.Weight
	}
	leaves := max(cfg.Nodes-len(nodes), 0)
	firstLeaf := len(nodes)
	for i := range leaves {
		g := r.IntN(max(gws, 1))
		parent := ctrls[0]
		site := "plant-0"
		if gws > 0 {
			parent, site = f.Gateways[g], gwSite[g]
		}
		p := pickProfile(r, total)
		name := kernel.NodeName(fmt.Sprintf("%s-%05d", p.Name, i))
		labels := map[string]string{
			"site": site, "zone": f.Zones[r.IntN(len(f.Zones))], "tier": "leaf", "profile": p.Name,
			"line": fmt.Sprintf("line-%d", r.IntN(8)),
		}
		n := add(name, kernel.RoleLeaf, parent, p, labels)
		if r.Float64() >= cfg.Unmeasured {
			n.Latency[parent] = ms(r, 0.5, 25) // ethernet to flaky wifi
		}
		for _, k := range SensorKinds {
			if r.Float64() < 0.35 {
				n.Capability.Sensors = append(n.Capability.Sensors, fmt.Sprintf("sensors/%s/%s/%s", site, name, k))
			}
		}
		switch x := r.Float64(); {
		case x < cfg.Down:
			n.Health = kernel.HealthDown
			n.LastSeen = now.Add(-time.Duration(30+r.IntN(600)) * time.Second)
		case x < cfg.Down+cfg.Drained:
			n.Health = kernel.HealthDrained
		}
	}
	// Neighbour measurements: each leaf measured a few leaves under the same
	// parent (they share a switch or a radio).
	byParent := map[kernel.NodeName][]int{}
	for i := firstLeaf; i < len(nodes); i++ {
		byParent[nodes[i].Parent] = append(byParent[nodes[i].Parent], i)
	}
	for i := firstLeaf; i < len(nodes); i++ {
		sib := byParent[nodes[i].Parent]
		for range 2 {
			j := sib[r.IntN(len(sib))]
			if j != i {
				nodes[i].Latency[nodes[j].Name] = ms(r, 0.3, 12)
			}
		}
	}
	f.Snapshot.Nodes = nodes
	f.placeExisting(r, cfg, now)
	return f
}

func pickProfile(r *rand.Rand, total int) Profile {
	x := r.IntN(total)
	for _, p := range LeafProfiles {
		if x < p.Weight {
			return p
		}
		x -= p.Weight
	}
	return LeafProfiles[0]
}

func capability(r *rand.Rand, p Profile, now time.Time) kernel.Capability {
	c := kernel.Capability{
		OS: "linux", Arch: p.Arch, ArchVariant: p.Variant, Cores: p.Cores, Memory: p.Memory,
		Profile: p.Name, Score: p.Score + r.IntN(p.Score/10+1) - p.Score/20,
	}
	for _, d := range p.Devices {
		c.Devices = append(c.Devices, kernel.Device{Kind: d})
	}
	c.Live = kernel.LiveStats{
		CPUPercent: 5 + 70*r.Float64()*r.Float64(),
		MemoryFree: kernel.Bytes(float64(p.Memory) * (0.4 + 0.5*r.Float64())),
		TempC:      35 + 50*r.Float64(),
		TempLimitC: 85,
		MeasuredAt: now.Add(-time.Duration(r.IntN(10)) * time.Second),
	}
	c.Live.Throttled = c.Live.TempC > 82
	return c
}

// ms is a random latency between lo and hi milliseconds.
func ms(r *rand.Rand, lo, hi float64) time.Duration {
	return time.Duration((lo + (hi-lo)*r.Float64()) * float64(time.Millisecond))
}
