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
	dist    []int64
	direct  []bool
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
		return &nt
	}
	var targets []int32
	switch {
	case n.Node != "":
		if id, ok := c.ids[n.Node]; ok {
			targets = []int32{id}
		}
	case n.Label != "":
		targets = c.labels[n.Label]
	default:
		targets = c.publishers(n.Topic)
	}
	nt := nearTargets{targets: targets}
	nt.dist, nt.direct = c.tree.distances(targets)
	c.nearCache[key] = nt
	return &nt
}

// publishers returns the nodes with a sensor publishing on a topic matching
// filter, ascending.
func (c *Cluster) publishers(filter string) []int32 {
	var out []int32
	for tid, topic := range c.topics {
		if kernel.MatchTopic(filter, topic) {
			out = append(out, c.topicNode[tid]...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// labelPair splits "k=v".
func labelPair(kv string) (string, string) {
	k, v, _ := strings.Cut(kv, "=")
	return k, v
}
