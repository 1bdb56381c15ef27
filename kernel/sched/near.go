package sched

import (
	"slices"
	"strings"

	"github.com/canopy-fleet/canopy/kernel"
)

// nearTargets is a resolved near target: the nodes it names and every
// node's latency to the nearest of them. Targets do not change as plans are
// applied, so they are cached per cluster.
type nearTargets struct {
	targets []int32
	dist    []int64 // computed on first use by full
	directs []bool
	latS    []float64 // latency score of every node, once full scans reuse it
	scans   int       // full scans that used this target
	uses    int       // decisions that used this target
}

// full returns every node's latency to the nearest target, computing it
// once.
func (nt *nearTargets) full(t *tree) []int64 {
	if nt.dist == nil {
		nt.dist, nt.directs = t.distances(nt.targets)
	}
	return nt.dist
}

// direct reports, per node, whether its latency is a direct measurement;
// full must have run.
func (nt *nearTargets) direct() []bool { return nt.directs }

// scores returns the latency score of every node, computing it on the
// second full scan that needs it: a target used once is cheaper scored on
// the fly.
func (nt *nearTargets) scores(t *tree, scale int64) []float64 {
	nt.scans++
	if nt.latS == nil && nt.scans < 2 {
		return nil
	}
	if nt.latS == nil {
		dist := nt.full(t)
		nt.latS = make([]float64, len(dist))
		for i, d := range dist {
			nt.latS[i] = latencyScore(d, scale)
		}
	}
	return nt.latS
}

// nearKey names a near target for the cache and for explanations.
func nearKey(n *kernel.Near) string {
	switch {
	case n.Node != "":
		return "node " + string(n.Node)
	case n.Label != "":
		return "label " + n.Label
	default:
		return "topic " + n.Topic
	}
}

func (c *Cluster) near(n *kernel.Near) *nearTargets {
	key := nearKey(n)
	if nt, ok := c.nearCache[key]; ok {
		return nt
	}
	var targets []int32
	switch {
	case n.Node != "":
		if id, ok := c.ids[n.Node]; ok {
			targets = []int32{id}
		}
	case n.Label != "":
		targets = c.labels[labelOf(n.Label)]
	default:
		targets = c.publishers(n.Topic)
	}
	nt := &nearTargets{targets: targets}
	c.nearCache[key] = nt
	return nt
}

// publishers returns the nodes with a sensor publishing on a topic matching
// filter, ascending.
func (c *Cluster) publishers(filter string) []int32 {
	var out []int32
	c.topicIdx.match(filter, func(tid int32) {
		out = append(out, c.topicNode[tid]...)
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// labelOf splits "k=v".
func labelOf(kv string) label {
	k, v, _ := strings.Cut(kv, "=")
	return label{k, v}
}
