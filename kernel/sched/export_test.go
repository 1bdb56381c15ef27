package sched

import (
	"slices"

	"github.com/canopy-fleet/canopy/kernel"
)

// Test hooks: the fast paths against their slow references.

// BothDistances returns the latency of each node in only to the near
// target, computed densely (every node) and sparsely (only these).
func (c *Cluster) BothDistances(n *kernel.Near, only []kernel.NodeName) (dense, sparse []int64) {
	nt := c.near(n)
	full := nt.full(&c.tree)
	ids := make([]int32, len(only))
	for i, name := range only {
		ids[i] = c.ids[name]
	}
	c.scratch.replica.clear()
	sp := c.sparseDistances(nt.targets, ids)
	for _, id := range ids {
		dense = append(dense, full[id])
		sparse = append(sparse, sp[id])
	}
	return dense, sparse
}

// BothSelections picks k nodes for req with selectTop and with a plain
// greedy that rescores every candidate for every pick.
func (c *Cluster) BothSelections(req *Request, k int) (fast, slow []kernel.NodeName) {
	s := &c.scratch
	s.replica.clear()
	q := c.compile(req, c.cfg.Policy)
	c.fullDistances(q)
	var cands []cand
	for i := range int32(len(c.nodes)) {
		if c.filter(q, i, true) == Eligible {
			cands = append(cands, cand{base: c.hotBase(q, i), idx: i})
		}
	}
	s.resetCounts()
	picks, _ := c.selectTop(q, slices.Clone(cands), nil, k, nil)
	for _, p := range picks {
		fast = append(fast, c.nodes[p.idx].Name)
	}
	s.resetCounts()
	left := slices.Clone(cands)
	for ; k > 0 && len(left) > 0; k-- {
		best := 0
		for i := range left {
			si := left[i].base + c.spreadNow(q, left[i].idx)
			sb := left[best].base + c.spreadNow(q, left[best].idx)
			if si > sb || (si == sb && left[i].idx < left[best].idx) {
				best = i
			}
		}
		slow = append(slow, c.nodes[left[best].idx].Name)
		c.count(left[best].idx, 1)
		left = slices.Delete(left, best, best+1)
	}
	s.resetCounts()
	return fast, slow
}

// TrieMatch returns the topics the trie matches for filter, sorted.
func TrieMatch(topics []string, filter string) []string {
	t := newTopicTrie()
	for i, tp := range topics {
		t.insert(tp, int32(i))
	}
	var out []string
	t.match(filter, func(id int32) { out = append(out, topics[id]) })
	slices.Sort(out)
	return slices.Compact(out)
}

// ScanEverything turns off static sets and sorted scans.
func (c *Cluster) ScanEverything() { c.noStatic = true }
