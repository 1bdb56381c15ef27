// Package naive is the straightforward scheduler Canopy's is measured
// against: for every deployment it walks the raw snapshot, filters every
// node, scores every survivor, sorts them all and takes the top. Same
// filters and score terms as package sched, minus spreading across
// gateways; latency to the near target is computed per decision with the
// same linear-time pass over the tree, but over maps keyed by name. None of
// sched's per-snapshot indexes, no top-k selection. It exists for `canopy
// bench scheduler` and the Go benchmarks, not for production.
package naive

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
)

// Place returns the nodes the deployment's replicas would go to.
func Place(s *sched.Snapshot, d *kernel.Deployment, now time.Time) []kernel.NodeName {
	byName := make(map[kernel.NodeName]*kernel.Node, len(s.Nodes))
	for i := range s.Nodes {
		byName[s.Nodes[i].Name] = &s.Nodes[i]
	}
	limits := map[string]kernel.Bytes{}
	for _, dep := range s.Deployments {
		limits[dep.Name] = dep.Limits.WithDefaults().Memory
	}
	used := map[kernel.NodeName]kernel.Bytes{}
	has := map[kernel.NodeName]bool{}
	for _, t := range s.Tasks {
		switch t.State {
		case kernel.TaskPending, kernel.TaskStarting, kernel.TaskRunning, kernel.TaskBackoff:
			used[t.Node] += limits[t.Deployment]
			if t.Deployment == d.Name {
				has[t.Node] = true
			}
		}
	}
	var dist map[kernel.NodeName]time.Duration
	if d.Near != nil {
		var targets []kernel.NodeName
		for i := range s.Nodes {
			n := &s.Nodes[i]
			switch {
			case d.Near.Node != "" && n.Name == d.Near.Node:
				targets = append(targets, n.Name)
			case d.Near.Label != "":
				if k, v, _ := strings.Cut(d.Near.Label, "="); n.Labels[k] == v {
					targets = append(targets, n.Name)
				}
			case d.Near.Topic != "" && slices.ContainsFunc(n.Capability.Sensors, func(t string) bool { return kernel.MatchTopic(d.Near.Topic, t) }):
				targets = append(targets, n.Name)
			}
		}
		dist = distances(s, byName, targets)
	}
	need := d.Limits.WithDefaults().Memory
	type scored struct {
		name  kernel.NodeName
		score float64
	}
	var ok []scored
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if has[n.Name] || n.Health != kernel.HealthReady || now.Sub(n.LastSeen) > 30*time.Second {
			continue
		}
		if !labelsMatch(n, d.Selector.Labels) || len(d.Selector.Arch) > 0 && !slices.Contains(d.Selector.Arch, n.Capability.Arch) {
			continue
		}
		if !devicesPresent(n, d.Requires.Devices) || !sensorsPresent(n, d.Requires.Sensors) || n.Capability.Score < d.Requires.Score {
			continue
		}
		alloc := n.Capability.Memory - 64*kernel.MiB
		free := alloc - used[n.Name]
		if free < max(need, d.Requires.Memory) {
			continue
		}
		lat := time.Duration(-1)
		if l, ok := dist[n.Name]; ok {
			lat = l
		}
		if d.Near != nil && d.Near.MaxLatency > 0 && (lat < 0 || lat > d.Near.MaxLatency.D()) {
			continue
		}
		score := float64(n.Capability.Score) / float64(n.Capability.Score+1000)
		score += 1 - n.Capability.Live.CPUPercent/100
		score += 1 - float64(used[n.Name]+need)/float64(alloc)
		if lim := n.Capability.Live.TempLimitC; lim > 0 {
			score += min(max((lim-n.Capability.Live.TempC)/30, 0), 1)
		}
		if lat >= 0 {
			score += 4 / (1 + float64(lat)/float64(10*time.Millisecond))
		}
		ok = append(ok, scored{n.Name, score})
	}
	sort.Slice(ok, func(i, j int) bool {
		if ok[i].score != ok[j].score {
			return ok[i].score > ok[j].score
		}
		return ok[i].name < ok[j].name
	})
	want := d.Replicas
	if d.Every {
		want = len(ok)
	}
	out := make([]kernel.NodeName, 0, want)
	for _, s := range ok[:min(want, len(ok))] {
		out = append(out, s.name)
	}
	return out
}

func labelsMatch(n *kernel.Node, sel map[string]string) bool {
	for k, v := range sel {
		if n.Labels[k] != v {
			return false
		}
	}
	return true
}

func devicesPresent(n *kernel.Node, kinds []kernel.DeviceKind) bool {
	for _, k := range kinds {
		if !n.Capability.HasDevice(k) {
			return false
		}
	}
	return true
}

func sensorsPresent(n *kernel.Node, filters []string) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(n.Capability.Sensors, func(t string) bool { return kernel.MatchTopic(f, t) }) {
			return false
		}
	}
	return true
}

// distances is every node's latency to the nearest target: up the tree to
// a common ancestor and down again, or a direct measurement, in two passes
// over the nodes ordered by depth.
func distances(s *sched.Snapshot, byName map[kernel.NodeName]*kernel.Node, targets []kernel.NodeName) map[kernel.NodeName]time.Duration {
	dist := map[kernel.NodeName]time.Duration{}
	if len(targets) == 0 {
		return dist
	}
	depth := func(n *kernel.Node) int {
		k := 0
		for x := n; x != nil && k < maxDepth; x = byName[x.Parent] {
			k++
		}
		return k
	}
	order := make([]*kernel.Node, len(s.Nodes))
	for i := range s.Nodes {
		order[i] = &s.Nodes[i]
	}
	sort.SliceStable(order, func(i, j int) bool { return depth(order[i]) < depth(order[j]) })
	for _, t := range targets {
		dist[t] = 0
	}
	for i := len(order) - 1; i >= 0; i-- { // up
		n := order[i]
		d, ok := dist[n.Name]
		p := byName[n.Parent]
		if !ok || p == nil {
			continue
		}
		if pd, ok := dist[p.Name]; !ok || d+link(byName, n) < pd {
			dist[p.Name] = d + link(byName, n)
		}
	}
	best := time.Duration(-1)
	for _, n := range order { // across the roots
		if byName[n.Parent] == nil {
			if d, ok := dist[n.Name]; ok && (best < 0 || d < best) {
				best = d
			}
		}
	}
	for _, n := range order { // down
		p := byName[n.Parent]
		var via time.Duration
		switch {
		case p != nil:
			pd, ok := dist[p.Name]
			if !ok {
				continue
			}
			via = pd + link(byName, n)
		case best >= 0:
			via = best + 5*time.Millisecond
		default:
			continue
		}
		if d, ok := dist[n.Name]; !ok || via < d {
			dist[n.Name] = via
		}
	}
	for _, t := range targets {
		for name, d := range byName[t].Latency {
			if cur, ok := dist[name]; !ok || d < cur {
				dist[name] = d
			}
		}
	}
	return dist
}

// maxDepth bounds walks up the tree, in case parents form a cycle.
const maxDepth = 64

func link(byName map[kernel.NodeName]*kernel.Node, x *kernel.Node) time.Duration {
	p := byName[x.Parent]
	if p == nil {
		return 0
	}
	if d, ok := x.Latency[p.Name]; ok {
		return d
	}
	if d, ok := p.Latency[x.Name]; ok {
		return d
	}
	return 5 * time.Millisecond
}
