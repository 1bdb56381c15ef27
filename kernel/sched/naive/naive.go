// Package naive is the straightforward scheduler Canopy's is measured
// against: for every deployment it walks the raw snapshot, filters every
// node, scores every survivor (latency to each near target separately,
// through the tree by walking parents), sorts them all and takes the top.
// Same filters and score terms as package sched, minus spreading across
// gateways; none of its indexes, no top-k selection. It exists for
// `canopy bench scheduler` and the Go benchmarks, not for production.
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
	var targets []*kernel.Node
	if d.Near != nil {
		for i := range s.Nodes {
			n := &s.Nodes[i]
			switch {
			case d.Near.Node != "" && n.Name == d.Near.Node:
				targets = append(targets, n)
			case d.Near.Label != "":
				if k, v, _ := strings.Cut(d.Near.Label, "="); n.Labels[k] == v {
					targets = append(targets, n)
				}
			case d.Near.Topic != "" && slices.ContainsFunc(n.Capability.Sensors, func(t string) bool { return kernel.MatchTopic(d.Near.Topic, t) }):
				targets = append(targets, n)
			}
		}
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
		for _, t := range targets {
			l := latency(byName, n, t)
			if lat < 0 || l < lat {
				lat = l
			}
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

// latency is the measured latency between a and b, or the path through
// their common ancestor, walking parents.
func latency(byName map[kernel.NodeName]*kernel.Node, a, b *kernel.Node) time.Duration {
	if a == b {
		return 0
	}
	if d, ok := a.Latency[b.Name]; ok {
		return d
	}
	if d, ok := b.Latency[a.Name]; ok {
		return d
	}
	up := map[kernel.NodeName]time.Duration{}
	var sum time.Duration
	for x, depth := a, 0; x != nil && depth < maxDepth; x, depth = byName[x.Parent], depth+1 {
		up[x.Name] = sum
		sum += link(byName, x)
	}
	sum = 0
	for x, depth := b, 0; x != nil && depth < maxDepth; x, depth = byName[x.Parent], depth+1 {
		if d, ok := up[x.Name]; ok {
			return d + sum
		}
		sum += link(byName, x)
	}
	return sum + 5*time.Millisecond
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
