package sched

import (
	"slices"
	"strconv"
	"strings"

	"github.com/canopy-fleet/canopy/kernel"
)

// staticSet is, for one combination of the filters that depend only on
// what does not change within a Cluster (labels, arch, devices, sensors,
// benchmark score, latency to the near target), the nodes that pass them
// and the part of their score that does not change either (latency and
// benchmark). Deployments with the same selector and near target share
// one: a full scan then visits only these nodes and checks only health and
// resources.
//
// The nodes are ordered, best first, by an upper bound of their score: the
// static part plus load, temperature headroom and packing as they were
// when the set was built. Placing tasks only lowers those, so the bound
// holds until something raises one (a task stops, a heartbeat arrives):
// then the cluster's generation moves and the set is rebuilt on next use.
// A scan in this order can stop as soon as no node left can enter the
// top-k pool.
type staticSet struct {
	uses   int
	gen    uint64 // the cluster generation it was built at
	ids    []int32
	static []float64 // w.lat*latency + w.bench*benchmark, summed as hotBase sums
	// Bucket b (best first) holds positions ends[b-1]..ends[b]-1, whose
	// score bounds are at most tops[b].
	ends [staticBuckets]int32
	tops [staticBuckets]float64
}

// maxStaticSets bounds the cache; past it, it starts over.
const maxStaticSets = 256

// staticAfter is the use of a selector that builds its static set. Building
// costs about one scan of every node, as does the first decision without
// it, so it is built at once.
const staticAfter = 1

// staticKey names the static filters and score of a deployment.
func staticKey(d *kernel.Deployment, p Policy) string {
	var b strings.Builder
	b.WriteString(string(p))
	b.WriteByte(1)
	keys := make([]string, 0, len(d.Selector.Labels))
	for k := range d.Selector.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(d.Selector.Labels[k])
		b.WriteByte(0)
	}
	b.WriteByte(1)
	for _, a := range d.Selector.Arch {
		b.WriteString(a)
		b.WriteByte(0)
	}
	b.WriteByte(1)
	for _, k := range d.Requires.Devices {
		b.WriteString(string(k))
		b.WriteByte(0)
	}
	b.WriteByte(1)
	for _, s := range d.Requires.Sensors {
		b.WriteString(s)
		b.WriteByte(0)
	}
	b.WriteByte(1)
	b.WriteString(strconv.Itoa(d.Requires.Score))
	if d.Near != nil {
		b.WriteByte(1)
		b.WriteString(nearKey(d.Near))
		b.WriteByte(0)
		b.WriteString(strconv.FormatInt(int64(d.Near.MaxLatency), 10))
	}
	return b.String()
}

// staticFor returns the static set of q's deployment, built on its
// staticAfter-th use.
func (c *Cluster) staticFor(q *query) *staticSet {
	if c.noStatic {
		return nil
	}
	key := staticKey(q.dep, q.policy)
	ss := c.statics[key]
	if ss == nil {
		if len(c.statics) >= maxStaticSets {
			clear(c.statics)
		}
		ss = &staticSet{}
		c.statics[key] = ss
	}
	ss.uses++
	if ss.uses >= staticAfter && (ss.ids == nil || ss.gen != c.gen) {
		c.buildStatic(q, ss)
	}
	if ss.ids == nil {
		return nil
	}
	return ss
}

// staticBuckets is how finely a static set is ordered.
const staticBuckets = 256

// buildStatic fills a static set, ordered by bucket of score bound, best
// bucket first: a counting sort, O(n), where a full sort would cost more
// than the scans it saves. Within a bucket nodes are in id order.
func (c *Cluster) buildStatic(q *query, ss *staticSet) {
	n := int32(len(c.nodes))
	ids := make([]int32, 0, n)
	vals := make([]float64, 0, n)
	keys := make([]float64, 0, n)
	top := 0.0
	w := &q.w
	for i := range n {
		if !c.passesStatic(q, i) {
			continue
		}
		lat := 0.0
		if w.lat > 0 {
			lat = latencyScore(q.dist[i], q.scale)
		}
		v := w.lat*lat + w.bench*c.benchS[i]
		// The bound sums as scanOne sums, each part at its most.
		pack := 1.0
		if !q.binpack {
			pack = 1 - c.usedS[i]
			if c.invAlloc[i] == 0 {
				pack = 0
			}
		}
		key := v + w.load*c.loadS[i] + w.thermal*c.thermal[i] + w.spread*0 + w.pack*pack
		ids = append(ids, i)
		vals = append(vals, v)
		keys = append(keys, key)
		top = max(top, key)
	}
	width := top / staticBuckets
	bucket := func(v float64) int {
		if width == 0 {
			return 0
		}
		return min(int(v/width), staticBuckets-1)
	}
	var start [staticBuckets + 1]int
	for _, key := range keys {
		start[staticBuckets-1-bucket(key)+1]++ // best bucket first
	}
	for b := range staticBuckets {
		start[b+1] += start[b]
	}
	ss.gen = c.gen
	ss.ids = make([]int32, len(ids))
	ss.static = make([]float64, len(ids))
	for b := range staticBuckets {
		ss.ends[b] = int32(start[b+1])
		// The top of bucket b (counted from the best) bounds its keys; the
		// best bucket's is the maximum itself.
		ss.tops[b] = top
		if b > 0 {
			ss.tops[b] = float64(staticBuckets-b)*width*(1+1e-9) + 1e-12
		}
	}
	for k, key := range keys {
		b := staticBuckets - 1 - bucket(key)
		ss.ids[start[b]], ss.static[start[b]] = ids[k], vals[k]
		start[b]++
	}
}

// passesStatic runs the filters that never change within a cluster.
func (c *Cluster) passesStatic(q *query, i int32) bool {
	switch {
	case q.labels != nil && !q.labels.has(i),
		q.archOK != nil && (int(c.arch[i]) >= len(q.archOK) || !q.archOK[c.arch[i]]),
		q.devNone || c.devices[i]&q.devMask != q.devMask || (q.devExact && !c.hasDevices(i, q.dep.Requires.Devices)),
		q.sensors != nil && !q.sensors.has(i),
		c.bench[i] < q.minScore,
		q.maxLat > 0 && q.dist[i] > q.maxLat:
		return false
	}
	return true
}

// sortedScan walks a static set best score bound first.
type sortedScan struct {
	ss     *staticSet
	next   int
	bucket int // of position next
}

func newSortedScan(ss *staticSet) *sortedScan { return &sortedScan{ss: ss} }

func (sc *sortedScan) done() bool { return sc.next >= len(sc.ss.ids) }

// restBound is an upper bound of the total score, spread included, of
// every node not visited yet, or -1 when all were.
func (sc *sortedScan) restBound(q *query) float64 {
	if sc.done() {
		return -1
	}
	for int32(sc.next) >= sc.ss.ends[sc.bucket] {
		sc.bucket++
	}
	return sc.ss.tops[sc.bucket] + q.w.spread
}

// visitNext visits one node, appending it to cands if it passes health and
// resources; ok reports whether it did.
func (c *Cluster) visitNext(q *query, sc *sortedScan, cands []cand) ([]cand, bool) {
	if sc.done() {
		return cands, false
	}
	k := sc.next
	sc.next++
	n := len(cands)
	cands = c.scanOne(q, sc.ss, k, cands)
	return cands, len(cands) > n
}

// visitAll visits every node left.
func (c *Cluster) visitAll(q *query, sc *sortedScan, cands []cand) []cand {
	for !sc.done() {
		cands = c.scanOne(q, sc.ss, sc.next, cands)
		sc.next++
	}
	return cands
}

// scanOne checks health and resources of the k-th node of a static set and
// appends it, scored, if it passes.
func (c *Cluster) scanOne(q *query, ss *staticSet, k int, cands []cand) []cand {
	i := ss.ids[k]
	if c.scratch.replica.has(i) || !c.ready[i] || (q.now != 0 && c.lastSeen[i] != 0 && q.now-c.lastSeen[i] > q.stale) ||
		c.memAlloc[i] < q.needMem || c.memFree[i] < q.needMem || c.cpuFree[i] < q.demand.CPU {
		return cands
	}
	used := c.usedS[i] + q.memF*c.invAlloc[i]
	if used > 1 || c.invAlloc[i] == 0 {
		used = 1
	}
	pack := used
	if !q.binpack {
		pack = 1 - used
	}
	w := &q.w
	base := ss.static[k] + w.load*c.loadS[i] + w.thermal*c.thermal[i] + w.spread*0 + w.pack*pack
	return append(cands, cand{base: base, idx: i})
}
