package sched_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
	"github.com/canopy-fleet/canopy/kernel/sched/fleetgen"
)

// TestProperties places generated workloads on random fleets and checks,
// for every decision: every node has an explanation naming a reason; every
// node given a replica passes every hard filter (checked here from the raw
// snapshot, independently of the scheduler's indexes); no node ends over
// capacity; the same input in another order gives the same plans; and
// once applied, deciding again changes nothing.
func TestProperties(t *testing.T) {
	type run struct{ nodes, deployments int }
	runs := []run{{10000, 6}}
	for range 8 {
		runs = append(runs, run{200, 25}, run{1000, 15})
	}
	for i, r := range runs {
		seed := uint64(i + 1)
		t.Run(fmt.Sprintf("seed=%d/nodes=%d", seed, r.nodes), func(t *testing.T) {
			t.Parallel()
			checkFleet(t, seed, r.nodes, r.deployments)
		})
	}
}

func checkFleet(t *testing.T, seed uint64, nodes, deployments int) {
	cfg := fleetgen.Config{Nodes: nodes, Seed: seed}
	if seed%3 == 0 {
		// A full fleet: existing tasks take up to 95% of memory.
		cfg.Fill, cfg.TaskMemory, cfg.Existing = 0.95, 1*kernel.GiB, nodes
	}
	f := fleetgen.Generate(cfg, now)
	work := f.Workload(deployments, seed)
	if seed%3 == 0 {
		// Big, important deployments: they must preempt.
		for i := range work {
			work[i].Priority = 900 + i%2*50
			work[i].Limits.Memory = 1 * kernel.GiB
			work[i].Replicas *= 3
		}
	}
	c := cluster(t, &f.Snapshot, sched.Config{})
	shuffled := shuffle(&f.Snapshot, seed)
	c2 := cluster(t, shuffled, sched.Config{})
	ledger := newLedger(c, &f.Snapshot)
	byName := map[kernel.NodeName]*kernel.Node{}
	for i := range f.Snapshot.Nodes {
		byName[f.Snapshot.Nodes[i].Name] = &f.Snapshot.Nodes[i]
	}
	lat := newLatencies(f.Snapshot.Nodes)
	var placed, preempted, unplaced int
	for _, d := range work {
		dec := place(t, c, d)
		dec2 := place(t, c2, d)
		if a, b := planJSON(t, dec.Plan), planJSON(t, dec2.Plan); a != b {
			t.Fatalf("%s: plans differ for the same input in another order:\n%s\n%s", d.Name, a, b)
		}
		e := dec.Explanation
		if len(e.Nodes) != nodes {
			t.Fatalf("%s: %d explanations for %d nodes", d.Name, len(e.Nodes), nodes)
		}
		for _, x := range e.Nodes {
			if x.Outcome == "" || x.Reason == "" || (x.Outcome == sched.OutcomeRejected && x.Filter == "") ||
				(x.Outcome == sched.OutcomeEligible && x.Filter != "") {
				t.Fatalf("%s: node %s explanation names no reason: %+v", d.Name, x.Node, x)
			}
		}
		for _, to := range placedOn(dec) {
			if why := hardFilters(byName[kernel.NodeName(to)], &d, lat, f.Snapshot.Nodes); why != "" {
				t.Fatalf("%s placed on %s, which fails %s", d.Name, to, why)
			}
		}
		if err := c.Apply(&dec.Plan); err != nil {
			t.Fatal(err)
		}
		if err := c2.Apply(&dec2.Plan); err != nil {
			t.Fatal(err)
		}
		ledger.apply(t, &dec.Plan)
		placed += len(dec.Plan.Place)
		unplaced += dec.Plan.Unplaced
		for _, s := range dec.Plan.Stop {
			if s.Preempted {
				preempted++
			}
		}
	}
	t.Logf("placed %d, preempted %d, unplaced %d", placed, preempted, unplaced)
	if placed == 0 {
		t.Fatal("nothing placed: the workload does not exercise the scheduler")
	}
	for _, d := range work {
		dec := place(t, c, d)
		if len(dec.Plan.Place) != 0 || len(dec.Plan.Stop) != 0 || len(dec.Plan.Move) != 0 {
			t.Fatalf("%s: deciding again after applying changes things: %+v", d.Name, dec.Plan)
		}
	}
}

func planJSON(t *testing.T, p sched.Plan) string {
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shuffle copies a snapshot with nodes, tasks and deployments reordered.
func shuffle(s *sched.Snapshot, seed uint64) *sched.Snapshot {
	r := rand.New(rand.NewPCG(seed, 99))
	out := &sched.Snapshot{
		Nodes:       slices.Clone(s.Nodes),
		Tasks:       slices.Clone(s.Tasks),
		Deployments: slices.Clone(s.Deployments),
	}
	r.Shuffle(len(out.Nodes), func(i, j int) { out.Nodes[i], out.Nodes[j] = out.Nodes[j], out.Nodes[i] })
	r.Shuffle(len(out.Tasks), func(i, j int) { out.Tasks[i], out.Tasks[j] = out.Tasks[j], out.Tasks[i] })
	r.Shuffle(len(out.Deployments), func(i, j int) {
		out.Deployments[i], out.Deployments[j] = out.Deployments[j], out.Deployments[i]
	})
	return out
}

// hardFilters checks a node against a deployment's hard filters from the
// raw snapshot, returning the first that fails.
func hardFilters(n *kernel.Node, d *kernel.Deployment, lat *latencies, all []kernel.Node) string {
	if n.Health != kernel.HealthReady || now.Sub(n.LastSeen) > 30*time.Second {
		return "health"
	}
	for k, v := range d.Selector.Labels {
		if n.Labels[k] != v {
			return "selector.labels"
		}
	}
	if len(d.Selector.Arch) > 0 && !slices.Contains(d.Selector.Arch, n.Capability.Arch) {
		return "selector.arch"
	}
	for _, k := range d.Requires.Devices {
		if !n.Capability.HasDevice(k) {
			return "requires.devices"
		}
	}
	for _, f := range d.Requires.Sensors {
		if !slices.ContainsFunc(n.Capability.Sensors, func(s string) bool { return kernel.MatchTopic(f, s) }) {
			return "requires.sensors"
		}
	}
	if n.Capability.Score < d.Requires.Score {
		return "requires.score"
	}
	if d.Near != nil && d.Near.MaxLatency > 0 {
		if l := lat.to(n.Name, targets(d.Near, all)); l > d.Near.MaxLatency.D() {
			return fmt.Sprintf("near.maxLatency (%s)", l)
		}
	}
	return ""
}

func targets(nr *kernel.Near, all []kernel.Node) []kernel.NodeName {
	var out []kernel.NodeName
	for _, n := range all {
		switch {
		case nr.Node != "":
			if n.Name == nr.Node {
				out = append(out, n.Name)
			}
		case nr.Label != "":
			if k, v, _ := cut(nr.Label); n.Labels[k] == v {
				out = append(out, n.Name)
			}
		default:
			if slices.ContainsFunc(n.Capability.Sensors, func(s string) bool { return kernel.MatchTopic(nr.Topic, s) }) {
				out = append(out, n.Name)
			}
		}
	}
	return out
}

func cut(kv string) (string, string, bool) {
	for i := range kv {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// latencies is an independent, slow model of the scheduler's latency
// rules: the smallest of the tree paths and the direct measurements to the
// targets (with a single target, its direct measurement replaces the tree
// path); a tree path sums measured links or 5ms; roots are 5ms apart.
type latencies struct {
	parent map[kernel.NodeName]kernel.NodeName
	meas   map[[2]kernel.NodeName]time.Duration
}

func newLatencies(nodes []kernel.Node) *latencies {
	l := &latencies{parent: map[kernel.NodeName]kernel.NodeName{}, meas: map[[2]kernel.NodeName]time.Duration{}}
	names := map[kernel.NodeName]bool{}
	for _, n := range nodes {
		names[n.Name] = true
	}
	for _, n := range nodes {
		if names[n.Parent] && n.Parent != n.Name {
			l.parent[n.Name] = n.Parent
		}
		for o, d := range n.Latency {
			if !names[o] || o == n.Name {
				continue
			}
			for _, k := range [][2]kernel.NodeName{{n.Name, o}, {o, n.Name}} {
				if old, ok := l.meas[k]; !ok || d < old {
					l.meas[k] = d
				}
			}
		}
	}
	return l
}

func (l *latencies) up(a kernel.NodeName) (map[kernel.NodeName]time.Duration, kernel.NodeName, time.Duration) {
	acc := map[kernel.NodeName]time.Duration{a: 0}
	var sum time.Duration
	for {
		p, ok := l.parent[a]
		if !ok {
			return acc, a, sum
		}
		d, ok := l.meas[[2]kernel.NodeName{a, p}]
		if !ok {
			d = 5 * time.Millisecond
		}
		sum += d
		a = p
		acc[a] = sum
	}
}

func (l *latencies) tree(a, b kernel.NodeName) time.Duration {
	ua, ra, sa := l.up(a)
	x, sum := b, time.Duration(0)
	for {
		if d, ok := ua[x]; ok {
			return d + sum
		}
		p, ok := l.parent[x]
		if !ok {
			return sa + 5*time.Millisecond + sum // across the roots
		}
		d, ok := l.meas[[2]kernel.NodeName{x, p}]
		if !ok {
			d = 5 * time.Millisecond
		}
		sum += d
		x = p
		_ = ra
	}
}

func (l *latencies) to(a kernel.NodeName, ts []kernel.NodeName) time.Duration {
	best := time.Duration(1 << 62)
	if len(ts) == 1 {
		if a == ts[0] {
			return 0
		}
		if d, ok := l.meas[[2]kernel.NodeName{a, ts[0]}]; ok {
			return d
		}
		return l.tree(a, ts[0])
	}
	for _, t := range ts {
		if a == t {
			return 0
		}
		best = min(best, l.tree(a, t))
		if d, ok := l.meas[[2]kernel.NodeName{a, t}]; ok {
			best = min(best, d)
		}
	}
	return best
}

// ledger recounts every node's memory reservations from the snapshot and
// the applied plans, independently of the cluster's accounting.
type ledger struct {
	alloc    map[kernel.NodeName]kernel.Bytes
	reserved map[kernel.NodeName]kernel.Bytes
	tasks    map[kernel.TaskID]struct {
		node kernel.NodeName
		mem  kernel.Bytes
	}
}

func newLedger(c *sched.Cluster, s *sched.Snapshot) *ledger {
	l := &ledger{alloc: map[kernel.NodeName]kernel.Bytes{}, reserved: map[kernel.NodeName]kernel.Bytes{},
		tasks: map[kernel.TaskID]struct {
			node kernel.NodeName
			mem  kernel.Bytes
		}{}}
	for _, n := range s.Nodes {
		l.alloc[n.Name] = n.Capability.Memory - 64*kernel.MiB
	}
	deps := map[string]*kernel.Deployment{}
	for i := range s.Deployments {
		deps[s.Deployments[i].Name] = &s.Deployments[i]
	}
	for _, t := range s.Tasks {
		mem := c.DemandOf(deps[t.Deployment]).Memory
		l.reserved[t.Node] += mem
		l.tasks[t.ID] = struct {
			node kernel.NodeName
			mem  kernel.Bytes
		}{t.Node, mem}
	}
	return l
}

func (l *ledger) apply(t *testing.T, p *sched.Plan) {
	stop := func(id kernel.TaskID) {
		if x, ok := l.tasks[id]; ok {
			l.reserved[x.node] -= x.mem
			delete(l.tasks, id)
		}
	}
	start := func(pl kernel.Placement) {
		l.reserved[pl.Node] += p.Demand.Memory
		l.tasks[pl.Task] = struct {
			node kernel.NodeName
			mem  kernel.Bytes
		}{pl.Node, p.Demand.Memory}
		if l.reserved[pl.Node] > l.alloc[pl.Node] {
			t.Fatalf("%s: node %s over capacity: %s reserved of %s", p.Deployment, pl.Node, l.reserved[pl.Node], l.alloc[pl.Node])
		}
	}
	for _, s := range p.Stop {
		stop(s.Task)
	}
	for _, m := range p.Move {
		stop(m.Task)
	}
	for _, m := range p.Move {
		start(m.To)
	}
	for _, pl := range p.Place {
		start(pl)
	}
}
