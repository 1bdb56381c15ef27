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
type staticSet struct {
	uses   int
	ids    []int32
	static []float64 // w.lat*latency + w.bench*benchmark, summed as hotBase sums
}

// maxStaticSets bounds the cache; past it, it starts over.
const maxStaticSets = 256

// staticKey names the static filters and score of a deployment.
func staticKey(d *kernel.Deployment) string {
	var b strings.Builder
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

// staticFor returns the static set of q's deployment, built the second
// time it is asked for: a one-off deployment is cheaper scanned directly.
func (c *Cluster) staticFor(q *query) *staticSet {
	key := staticKey(q.dep)
	ss := c.statics[key]
	if ss == nil {
		if len(c.statics) >= maxStaticSets {
			clear(c.statics)
		}
		ss = &staticSet{}
		c.statics[key] = ss
	}
	ss.uses++
	if ss.ids == nil && ss.uses >= 2 {
		ss.ids = make([]int32, 0, 64)
		for i := range int32(len(c.nodes)) {
			if c.passesStatic(q, i) {
				lat := 0.0
				if q.w.lat > 0 {
					lat = latencyScore(q.dist[i], q.scale)
				}
				ss.ids = append(ss.ids, i)
				ss.static = append(ss.static, q.w.lat*lat+q.w.bench*c.benchS[i])
			}
		}
	}
	if ss.ids == nil {
		return nil
	}
	return ss
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

// scanStatic is the hot loop over a static set: health, resources and the
// changing part of the score.
func (c *Cluster) scanStatic(q *query, ss *staticSet, cands []cand) []cand {
	s := &c.scratch
	w := &q.w
	for k, i := range ss.ids {
		if s.replica.has(i) || !c.ready[i] || (q.now != 0 && c.lastSeen[i] != 0 && q.now-c.lastSeen[i] > q.stale) ||
			c.memAlloc[i] < q.needMem || c.memFree[i] < q.needMem || c.cpuFree[i] < q.demand.CPU {
			continue
		}
		used := c.usedS[i] + q.memF*c.invAlloc[i]
		if used > 1 || c.invAlloc[i] == 0 {
			used = 1
		}
		pack := used
		if !q.binpack {
			pack = 1 - used
		}
		base := ss.static[k] + w.load*c.loadS[i] + w.thermal*c.thermal[i] + w.spread*0 + w.pack*pack
		cands = append(cands, cand{base: base, idx: i})
	}
	return cands
}
