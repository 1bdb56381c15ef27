package sched

// cand is a node that passed every filter. bound is an upper bound of its
// current total score: its spread part can only fall as replicas are
// placed, so a stale bound never underestimates.
type cand struct {
	bound float64
	base  float64
	idx   int32
}

// pick is a chosen node and its score when chosen.
type pick struct {
	idx   int32
	score float64
}

// before orders candidates: higher score first, then lower node id (name
// order) so equal scores resolve the same way every time.
func before(a, b *cand) bool {
	if a.bound != b.bound {
		return a.bound > b.bound
	}
	return a.idx < b.idx
}

func siftDown(h []cand, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		best := l
		if r := l + 1; r < n && before(&h[r], &h[l]) {
			best = r
		}
		if !before(&h[best], &h[i]) {
			return
		}
		h[i], h[best] = h[best], h[i]
		i = best
	}
}

func heapify(h []cand) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
}

// selectTop picks up to k candidates, one replica per node, greedily by
// total score with the spread counters updated after each pick. It is lazy
// greedy: only the top of the heap is rescored, which is exact because
// scores only fall as picks are made. Cost is O(n + k log n), not a sort
// of every node. It returns the picks and the candidates left (a heap).
func (c *Cluster) selectTop(q *query, h []cand, k int, picks []pick) ([]pick, []cand) {
	for i := range h {
		h[i].bound = h[i].base + c.spreadNow(q, h[i].idx)
	}
	heapify(h)
	for len(h) > 0 && k > 0 {
		top := h[0]
		cur := top.base + c.spreadNow(q, top.idx)
		if cur != top.bound {
			h[0].bound = cur
			siftDown(h, 0)
			if h[0].idx != top.idx {
				continue
			}
		}
		picks = append(picks, pick{idx: top.idx, score: cur})
		c.count(top.idx, 1)
		k--
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		siftDown(h, 0)
	}
	return picks, h
}
