package sched

import (
	"github.com/canopy-fleet/canopy/kernel"
)

// Score names, as explanations show them.
const (
	ScoreLatency   = "latency"
	ScoreBenchmark = "benchmark"
	ScoreLoad      = "load"
	ScoreThermal   = "thermal"
	ScoreSpread    = "spread"
	ScorePack      = "pack"
)

// normWeights are the weights in effect for one decision, summing to 1
// over the scores that apply.
type normWeights struct {
	lat, bench, load, thermal, spread, pack float64
}

func (w Weights) normalize(hasNear bool) normWeights {
	pos := func(v float64) float64 { return max(v, 0) }
	n := normWeights{
		bench:   pos(w.Benchmark),
		load:    pos(w.Load),
		thermal: pos(w.Thermal),
		spread:  pos(w.Spread),
		pack:    pos(w.Pack),
	}
	if hasNear {
		n.lat = pos(w.Latency)
	}
	sum := n.lat + n.bench + n.load + n.thermal + n.spread + n.pack
	if sum == 0 {
		return n
	}
	n.lat /= sum
	n.bench /= sum
	n.load /= sum
	n.thermal /= sum
	n.spread /= sum
	n.pack /= sum
	return n
}

// parts are one node's scores, each in 0..1.
type parts struct {
	lat, bench, load, thermal, spread, pack float64
}

func (p *parts) total(w *normWeights) float64 {
	return w.lat*p.lat + w.bench*p.bench + w.load*p.load + w.thermal*p.thermal + w.spread*p.spread + w.pack*p.pack
}

// latencyScore halves at the configured scale: 0 → 1, scale → 0.5.
func latencyScore(d, scale int64) float64 {
	if d >= unreachable {
		return 0
	}
	return 1 / (1 + float64(d)/float64(scale))
}

// benchmarkScore saturates: the reference machine (1000) scores 0.5.
func benchmarkScore(s int32) float64 {
	if s <= 0 {
		return 0
	}
	return float64(s) / (float64(s) + 1000)
}

// thermalScore is the temperature headroom: 30 °C or more below the
// throttling point scores 1, a throttled node 0, a node that does not
// report temperatures 0.5.
func thermalScore(l *kernel.LiveStats) float64 {
	if l.Throttled {
		return 0
	}
	if l.TempLimitC <= 0 || l.TempC == 0 || l.MeasuredAt.IsZero() {
		return 0.5
	}
	return clamp01((l.TempLimitC - l.TempC) / 30)
}

func clamp01(v float64) float64 { return min(max(v, 0), 1) }

// spreadScore is 1 for a node whose gateway and site hold no replica of the
// deployment, falling as they hold more.
func spreadScore(gw, site int32) float64 {
	return (1/float64(1+gw) + 1/float64(1+site)) / 2
}

// gateway is the spread domain of node i: its parent, or itself for a root.
func (c *Cluster) gateway(i int32) int32 {
	if p := c.tree.parent[i]; p >= 0 {
		return p
	}
	return i
}

// baseParts are the scores of node i that do not depend on where the other
// replicas go. With own set the node already holds this replica, whose
// reservation is counted once, not twice.
func (c *Cluster) baseParts(q *query, i int32, own bool) parts {
	p := parts{bench: c.benchS[i], load: c.loadS[i], thermal: c.thermal[i]}
	if q.w.lat > 0 {
		p.lat = latencyScore(q.dist[i], int64(c.cfg.LatencyScale))
	}
	used := c.usedS[i]
	if own {
		if c.cpuCap[i] > 0 {
			p.load = clamp01((c.cpuFree[i] + q.demand.CPU) / c.cpuCap[i])
		}
	} else {
		used = min(used+q.memF*c.invAlloc[i], 1)
	}
	if c.invAlloc[i] == 0 {
		used = 1
	}
	if q.policy == PolicyBinpack {
		p.pack = used
	} else {
		p.pack = 1 - used
	}
	return p
}

// base is the weighted sum of baseParts.
func (c *Cluster) base(q *query, i int32, own bool) float64 {
	p := c.baseParts(q, i, own)
	return p.total(&q.w)
}

// hotBase is base(q, i, false) for the hot loop: multiply-adds over the
// cached per-node scores, no divisions. It sums in the same order as
// parts.total, so the two agree exactly.
func (c *Cluster) hotBase(q *query, i int32) float64 {
	used := c.usedS[i] + q.memF*c.invAlloc[i]
	if used > 1 || c.invAlloc[i] == 0 {
		used = 1
	}
	pack := used
	if !q.binpack {
		pack = 1 - used
	}
	lat := 0.0
	if q.latS != nil {
		lat = q.latS[i]
	} else if q.w.lat > 0 {
		lat = latencyScore(q.dist[i], q.scale)
	}
	w := &q.w
	return w.lat*lat + w.bench*c.benchS[i] + w.load*c.loadS[i] + w.thermal*c.thermal[i] + w.spread*0 + w.pack*pack
}

// spreadNow is the weighted spread score of node i given the replicas
// counted so far.
func (c *Cluster) spreadNow(q *query, i int32) float64 {
	s := &c.scratch
	g, st := s.gwCount[c.gateway(i)], s.siteCnt[c.site[i]]
	if g|st == 0 {
		return q.w.spread
	}
	return q.w.spread * spreadScore(g, st)
}

// count adds (delta 1) or removes (-1) a replica on node i to the spread
// counters.
func (c *Cluster) count(i int32, delta int32) {
	s := &c.scratch
	g, st := c.gateway(i), c.site[i]
	if s.gwCount[g] == 0 && delta > 0 {
		s.touchGW = append(s.touchGW, g)
	}
	if s.siteCnt[st] == 0 && delta > 0 {
		s.touchSit = append(s.touchSit, st)
	}
	s.gwCount[g] += delta
	s.siteCnt[st] += delta
}
