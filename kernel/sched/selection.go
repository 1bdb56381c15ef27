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

// worse orders the bounded pool's min-heap: lowest bound at the root.
func worse(a, b *cand) bool { return before(b, a) }

func siftDownMin(h []cand, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l
		if r := l + 1; r < n && worse(&h[r], &h[l]) {
			w = r
		}
		if !worse(&h[w], &h[i]) {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// selectTop picks up to k candidates, one replica per node, greedily by
// total score, updating the spread counters after each pick. It is lazy
// greedy: only the top of a heap is rescored, which is exact because scores
// only fall as picks are made.
//
// When k is small against the candidates, the heap holds only a pool of
// the best 2k+32; the best score outside the pool is tracked exactly (it
// changes only when a pick shares a gateway or site with that node), every
// pick must beat it, and if one does not, the heap is rebuilt from every
// candidate. The result is the same as with a heap of all candidates; the
// cost is O(n) for the scan plus O(k log k) for the picks.
//
// With a sorted scan (sc not nil) the candidates are not all known yet:
// nodes are visited best static score first and the visit stops once no
// node left could enter the pool; picks must also beat an upper bound of
// the nodes not visited, and if one does not, the scan is finished first.
// It returns the picks and every candidate visited.
func (c *Cluster) selectTop(q *query, cands []cand, sc *sortedScan, k int, picks []pick) ([]pick, []cand) {
	if k <= 0 || (len(cands) == 0 && sc == nil) {
		return picks, cands
	}
	s := &c.scratch
	s.picked.clear()
	pool := s.pool[:0]
	out := outsideBest{idx: -1}
	size := 2*k + 32
	// With no replica counted yet every spread score is 1: skip looking.
	fresh := len(s.touchGW) == 0 && len(s.touchSit) == 0
	bound := func(cd *cand) {
		if fresh {
			cd.bound = cd.base + q.w.spread
		} else {
			cd.bound = cd.base + c.spreadNow(q, cd.idx)
		}
	}
	rest := -1.0 // upper bound of the nodes a sorted scan has not visited
	if sc != nil {
		for {
			if len(pool) == size {
				if rest = sc.restBound(q); rest < pool[0].bound {
					break
				}
			}
			var ok bool
			if cands, ok = c.visitNext(q, sc, cands); !ok {
				if sc.done() {
					rest = -1
					break
				}
				continue
			}
			cd := cands[len(cands)-1]
			bound(&cd)
			switch {
			case len(pool) < size:
				pool = append(pool, cd)
				if len(pool) == size {
					for i := size/2 - 1; i >= 0; i-- {
						siftDownMin(pool, i)
					}
				}
			case !before(&cd, &pool[0]):
				out.offer(cd)
			default:
				out.offer(pool[0])
				pool[0] = cd
				siftDownMin(pool, 0)
			}
		}
	} else {
		thr := 0.0 // the pool's lowest bound, once the pool is full
		for _, cd := range cands {
			bound(&cd)
			if size*4 >= len(cands) || len(pool) < size {
				pool = append(pool, cd)
				if len(pool) == size && size*4 < len(cands) {
					for i := size/2 - 1; i >= 0; i-- {
						siftDownMin(pool, i)
					}
					thr = pool[0].bound
				}
				continue
			}
			// Candidates come in id order, so one scoring no more than the
			// pool's lowest (or than the best outside) ranks below it.
			if cd.bound <= thr {
				if out.idx < 0 || cd.bound > out.score {
					out.idx, out.score = cd.idx, cd.bound
				}
				continue
			}
			out.offer(pool[0])
			pool[0] = cd
			siftDownMin(pool, 0)
			thr = pool[0].bound
		}
	}
	if out.idx >= 0 || rest >= 0 {
		s.inPool.clear()
		for _, p := range pool {
			s.inPool.set(p.idx)
		}
	}
	heapify(pool)
	for len(pool) > 0 && k > 0 {
		top := pool[0]
		cur := top.base + c.spreadNow(q, top.idx)
		if cur != top.bound {
			pool[0].bound = cur
			siftDown(pool, 0)
			if pool[0].idx != top.idx {
				continue
			}
		}
		if (out.idx >= 0 && !before(&cand{bound: cur, idx: top.idx}, &cand{bound: out.score, idx: out.idx})) || (rest >= 0 && cur <= rest) {
			// A candidate outside the pool may beat the top: use them all.
			if sc != nil && !sc.done() {
				cands = c.visitAll(q, sc, cands)
			}
			rest = -1
			pool = pool[:0]
			for _, cd := range cands {
				if !s.picked.has(cd.idx) {
					cd.bound = cd.base + c.spreadNow(q, cd.idx)
					pool = append(pool, cd)
				}
			}
			heapify(pool)
			out.idx = -1
			continue
		}
		picks = append(picks, pick{idx: top.idx, score: cur})
		s.picked.set(top.idx)
		c.count(top.idx, 1)
		k--
		last := len(pool) - 1
		pool[0] = pool[last]
		pool = pool[:last]
		siftDown(pool, 0)
		if out.idx >= 0 && k > 0 && c.sameDomain(out.idx, top.idx) {
			// The best outside may have fallen: find it again.
			out = outsideBest{idx: -1}
			for _, cd := range cands {
				if !s.picked.has(cd.idx) && !s.inPool.has(cd.idx) {
					cd.bound = cd.base + c.spreadNow(q, cd.idx)
					out.offer(cd)
				}
			}
		}
	}
	s.pool = pool
	return picks, cands
}

// outsideBest is the best candidate outside the pool, by current score.
type outsideBest struct {
	idx   int32
	score float64
}

func (o *outsideBest) offer(cd cand) {
	if o.idx < 0 || before(&cd, &cand{bound: o.score, idx: o.idx}) {
		o.idx, o.score = cd.idx, cd.bound
	}
}

// sameDomain reports whether nodes a and b share a gateway or a site, so a
// replica on one changes the spread score of the other.
func (c *Cluster) sameDomain(a, b int32) bool {
	return c.gateway(a) == c.gateway(b) || c.site[a] == c.site[b]
}
