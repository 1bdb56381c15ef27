package sched

import (
	"math"
	"math/bits"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// unreachable is the latency of a node with no path to a target.
const unreachable = math.MaxInt64 / 4

// tree is the fleet's parent/child structure with link latencies, and the
// graph of measured latencies between nodes.
type tree struct {
	parent []int32 // -1 for roots (controllers, or nodes whose parent is unknown)
	order  []int32 // every node, parents before children
	link   []int64 // nanoseconds to the parent; 0 for roots
	// Measured latencies, both directions, in compressed rows: the
	// neighbours of node i are edgeTo[edgeAt[i]:edgeAt[i+1]].
	edgeAt  []int32
	edgeTo  []int32
	edgeLat []int64
	// rootLink joins each root (a controller) to a virtual hub, so roots are
	// one default link apart.
	rootLink int64
}

func buildTree(nodes []*kernel.Node, ids map[kernel.NodeName]int32, defLink time.Duration) tree {
	n := len(nodes)
	t := tree{
		parent:   make([]int32, n),
		link:     make([]int64, n),
		edgeAt:   make([]int32, n+1),
		rootLink: int64(defLink) / 2, // so two roots are one default link apart
	}
	// Measured latencies as a symmetric graph.
	for i, nd := range nodes {
		for name, d := range nd.Latency {
			if j, ok := ids[name]; ok && int(j) != i && d >= 0 {
				t.edgeAt[i+1]++
				t.edgeAt[j+1]++
			}
		}
	}
	for i := range n {
		t.edgeAt[i+1] += t.edgeAt[i]
	}
	t.edgeTo = make([]int32, t.edgeAt[n])
	t.edgeLat = make([]int64, t.edgeAt[n])
	fill := make([]int32, n)
	copy(fill, t.edgeAt[:n])
	for i, nd := range nodes {
		for name, d := range nd.Latency {
			if j, ok := ids[name]; ok && int(j) != i && d >= 0 {
				t.edgeTo[fill[i]], t.edgeLat[fill[i]] = j, int64(d)
				fill[i]++
				t.edgeTo[fill[j]], t.edgeLat[fill[j]] = int32(i), int64(d)
				fill[j]++
			}
		}
	}
	// Parents, and children in compressed rows.
	childAt := make([]int32, n+1)
	for i, nd := range nodes {
		p, ok := ids[nd.Parent]
		if !ok || int(p) == i {
			p = -1
		}
		t.parent[i] = p
		if p >= 0 {
			childAt[p+1]++
		}
	}
	for i := range n {
		childAt[i+1] += childAt[i]
	}
	children := make([]int32, childAt[n])
	copy(fill, childAt[:n])
	for i := range n {
		if p := t.parent[i]; p >= 0 {
			children[fill[p]] = int32(i)
			fill[p]++
		}
	}
	// Breadth-first from the roots. Nodes caught in a parent cycle are
	// never reached; each becomes a root in turn.
	t.order = make([]int32, 0, n)
	seen := make([]bool, n)
	visit := func(r int32) {
		start := len(t.order)
		t.order = append(t.order, r)
		seen[r] = true
		for k := start; k < len(t.order); k++ {
			v := t.order[k]
			for _, ch := range children[childAt[v]:childAt[v+1]] {
				if !seen[ch] {
					seen[ch] = true
					t.order = append(t.order, ch)
				}
			}
		}
	}
	for i := range n {
		if t.parent[i] < 0 {
			visit(int32(i))
		}
	}
	for i := range n {
		if !seen[i] {
			t.parent[i] = -1
			visit(int32(i))
		}
	}
	for i := range n {
		p := t.parent[i]
		if p < 0 {
			continue
		}
		t.link[i] = int64(defLink)
		if d, ok := t.direct(int32(i), p); ok {
			t.link[i] = d
		}
	}
	return t
}

// direct returns the smallest measured latency between a and b.
func (t *tree) direct(a, b int32) (int64, bool) {
	best, ok := int64(unreachable), false
	for k := t.edgeAt[a]; k < t.edgeAt[a+1]; k++ {
		if t.edgeTo[k] == b && t.edgeLat[k] < best {
			best, ok = t.edgeLat[k], true
		}
	}
	return best, ok
}

// linkMeasured reports whether node i's link to its parent was measured.
func (t *tree) linkMeasured(i int32) bool {
	if t.parent[i] < 0 {
		return false
	}
	_, ok := t.direct(i, t.parent[i])
	return ok
}

// distances returns, for every node, the latency to the nearest target, and
// whether that figure is a direct measurement. With one target a direct
// measurement replaces the path through the tree; with several, each node
// takes the smallest of its tree path and its direct measurements. The tree
// path sums measured link latencies (or the default where a link is not
// measured), and roots are joined by one default link.
func (t *tree) distances(targets []int32) ([]int64, []bool) {
	n := len(t.parent)
	dist := make([]int64, n)
	direct := make([]bool, n)
	for i := range dist {
		dist[i] = unreachable
	}
	if len(targets) == 0 {
		return dist, direct
	}
	for _, v := range targets {
		dist[v] = 0
	}
	// Up: the nearest target below each node.
	rootBest := int64(unreachable)
	for k := len(t.order) - 1; k >= 0; k-- {
		v := t.order[k]
		if dist[v] >= unreachable {
			continue
		}
		if p := t.parent[v]; p >= 0 {
			dist[p] = min(dist[p], dist[v]+t.link[v])
		} else {
			rootBest = min(rootBest, dist[v]+t.rootLink)
		}
	}
	// Down: through the parent, or across the roots.
	for _, v := range t.order {
		p := t.parent[v]
		switch {
		case p >= 0 && dist[p] < unreachable:
			dist[v] = min(dist[v], dist[p]+t.link[v])
		case p < 0 && rootBest < unreachable:
			dist[v] = min(dist[v], rootBest+t.rootLink)
		}
	}
	if len(targets) == 1 {
		tg := targets[0]
		for k := t.edgeAt[tg]; k < t.edgeAt[tg+1]; k++ {
			if j := t.edgeTo[k]; j != tg && !direct[j] {
				dist[j], direct[j] = t.edgeLat[k], true
			} else if j != tg {
				dist[j] = min(dist[j], t.edgeLat[k])
			}
		}
		return dist, direct
	}
	for _, tg := range targets {
		for k := t.edgeAt[tg]; k < t.edgeAt[tg+1]; k++ {
			if j := t.edgeTo[k]; t.edgeLat[k] <= dist[j] && dist[j] != 0 {
				dist[j], direct[j] = t.edgeLat[k], true
			}
		}
	}
	return dist, direct
}

// sparseDistances computes the latency to the nearest target for the nodes
// in only and for the nodes holding a replica, with the rules of distances,
// by walking each one's ancestors: a tree path goes up to a common ancestor
// and down to a target. Other entries of the returned array are stale.
func (c *Cluster) sparseDistances(targets, only []int32) []int64 {
	t, s := &c.tree, &c.scratch
	down, dist := s.down, s.dist
	rootBest := int64(unreachable)
	for _, tg := range targets {
		acc, a := int64(0), tg
		for {
			if down[a] <= acc {
				break // an earlier target already gave a and its ancestors less
			}
			if down[a] == unreachable {
				s.touched = append(s.touched, a)
			}
			down[a] = acc
			p := t.parent[a]
			if p < 0 {
				rootBest = min(rootBest, acc+t.rootLink)
				break
			}
			acc += t.link[a]
			a = p
		}
	}
	single := int32(-1)
	if len(targets) == 1 {
		single = targets[0]
	} else {
		for _, tg := range targets {
			s.tset.set(tg)
		}
	}
	one := func(v int32) {
		best, acc, a := int64(unreachable), int64(0), v
		for {
			if down[a] < unreachable {
				best = min(best, acc+down[a])
			}
			p := t.parent[a]
			if p < 0 {
				break
			}
			acc += t.link[a]
			a = p
		}
		if rootBest < unreachable {
			best = min(best, acc+t.rootLink+rootBest)
		}
		if len(targets) > 0 && best != 0 {
			direct := int64(unreachable)
			for k := t.edgeAt[v]; k < t.edgeAt[v+1]; k++ {
				j := t.edgeTo[k]
				if j == single || (single < 0 && s.tset.has(j)) {
					direct = min(direct, t.edgeLat[k])
				}
			}
			switch {
			case direct == unreachable:
			case single >= 0:
				best = direct // one target: the measurement replaces the estimate
			default:
				best = min(best, direct)
			}
		}
		dist[v] = best
	}
	for _, v := range only {
		one(v)
	}
	for k := range s.replica {
		for w := s.replica[k]; w != 0; w &= w - 1 {
			one(int32(k*64 + bits.TrailingZeros64(w)))
		}
	}
	for _, a := range s.touched {
		down[a] = unreachable
	}
	s.touched = s.touched[:0]
	if single < 0 {
		for _, tg := range targets {
			s.tset[tg>>6] = 0
		}
	}
	return dist
}
