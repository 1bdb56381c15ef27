package sched

// bitset is a set of node ids.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i int32) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }

func (b bitset) set(i int32) { b[i>>6] |= 1 << (uint(i) & 63) }

func (b bitset) clear() { clear(b) }

// and keeps only the members of b that are also in o.
func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}

// scratch is per-decision working memory, reused between decisions so the
// hot loop allocates nothing per node.
type scratch struct {
	labels   bitset
	sensors  bitset
	one      bitset
	replica  bitset
	picked   bitset
	inPool   bitset
	tset     bitset // sparseDistances: the targets
	pool     []cand
	down     []int64 // sparseDistances: best latency down to a target, per node
	dist     []int64 // sparseDistances: its output
	touched  []int32
	reasons  []Reason
	cands    []cand
	gwCount  []int32 // replicas per gateway (node id)
	siteCnt  []int32 // replicas per site id
	touchGW  []int32
	touchSit []int32
}

func (s *scratch) init(nodes, sites int) {
	s.labels = newBitset(nodes)
	s.sensors = newBitset(nodes)
	s.one = newBitset(nodes)
	s.replica = newBitset(nodes)
	s.picked = newBitset(nodes)
	s.inPool = newBitset(nodes)
	s.tset = newBitset(nodes)
	s.down = make([]int64, nodes)
	for i := range s.down {
		s.down[i] = unreachable
	}
	s.dist = make([]int64, nodes)
	s.gwCount = make([]int32, nodes+1)
	s.siteCnt = make([]int32, sites)
	s.cands = make([]cand, 0, nodes)
}

// resetCounts zeroes the spread counters touched by the last decision.
func (s *scratch) resetCounts() {
	for _, g := range s.touchGW {
		s.gwCount[g] = 0
	}
	for _, t := range s.touchSit {
		s.siteCnt[t] = 0
	}
	s.touchGW, s.touchSit = s.touchGW[:0], s.touchSit[:0]
}
