package sched

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Outcome is what a decision did with a node.
type Outcome string

// Outcomes.
const (
	OutcomePlaced   Outcome = "placed"   // a new replica starts here
	OutcomePreempt  Outcome = "preempt"  // a new replica starts here after lower-priority tasks stop
	OutcomeKept     Outcome = "kept"     // a replica stays here
	OutcomeStopped  Outcome = "stopped"  // a replica here stops or moves away
	OutcomeEligible Outcome = "eligible" // passed every filter, ranked below the chosen nodes
	OutcomeRejected Outcome = "rejected" // a filter rejected it
)

// Explanation says why each node was chosen or rejected for one
// deployment. It is what `canopy explain deployment NAME` shows.
type Explanation struct {
	Deployment string    `json:"deployment"`
	Version    int       `json:"version"`
	At         time.Time `json:"at"`
	Policy     Policy    `json:"policy"`
	Desired    int       `json:"desired"`
	Demand     Demand    `json:"demand"`
	// Near names the near target and how many nodes it resolved to.
	Near        string `json:"near,omitempty"`
	NearTargets int    `json:"nearTargets,omitempty"`
	// Weights are the score weights in effect, summing to 1.
	Weights map[string]float64 `json:"weights"`
	// Counts is how many nodes had each outcome.
	Counts map[Outcome]int `json:"counts"`
	// Nodes has one entry per node, in name order.
	Nodes []NodeExplanation `json:"nodes"`
}

// NodeExplanation is the verdict on one node.
type NodeExplanation struct {
	Node    kernel.NodeName `json:"node"`
	Outcome Outcome         `json:"outcome"`
	// Filter names the filter that rejected the node (outcome rejected, or
	// stopped when its node stopped qualifying).
	Filter string `json:"filter,omitempty"`
	// Reason says why, in a sentence.
	Reason string `json:"reason"`
	// Score is the node's total score, 0..1, the weighted sum of Scores.
	Score  float64          `json:"score,omitempty"`
	Scores []ScoreComponent `json:"scores,omitempty"`
}

// ScoreComponent is one score of a node.
type ScoreComponent struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`  // 0..1
	Weight float64 `json:"weight"` // share of the total
	Detail string  `json:"detail,omitempty"`
}

type outcome uint8

const (
	outcomeNone outcome = iota
	outcomePlaced
	outcomePreempt
	outcomeKept
	outcomeStopped
)

var outcomeNames = [...]Outcome{outcomePlaced: OutcomePlaced, outcomePreempt: OutcomePreempt, outcomeKept: OutcomeKept, outcomeStopped: OutcomeStopped}

type note struct {
	idx     int32
	outcome outcome
	text    string
	score   float64
}

// noteBook collects what a decision did to the few nodes it touched.
type noteBook struct{ notes []note }

func (b *noteBook) add(idx int32, o outcome, text string, score float64) {
	b.notes = append(b.notes, note{idx: idx, outcome: o, text: text, score: score})
}

func (c *Cluster) explain(q *query, req *Request, reasons []Reason, notes *noteBook, desired int) *Explanation {
	n := len(c.nodes)
	e := &Explanation{
		Deployment: q.dep.Name,
		Version:    q.version,
		At:         req.Now,
		Policy:     q.policy,
		Desired:    desired,
		Demand:     q.demand,
		Counts:     map[Outcome]int{},
		Nodes:      make([]NodeExplanation, n),
		Weights: map[string]float64{
			ScoreBenchmark: q.w.bench, ScoreLoad: q.w.load, ScoreThermal: q.w.thermal,
			ScoreSpread: q.w.spread, ScorePack: q.w.pack,
		},
	}
	if q.near != nil {
		e.Near, e.NearTargets = nearKey(q.dep.Near), len(q.near.targets)
		e.Weights[ScoreLatency] = q.w.lat
	}
	byNode := make(map[int32][]note, len(notes.notes))
	for _, nt := range notes.notes {
		byNode[nt.idx] = append(byNode[nt.idx], nt)
	}
	comps := make([]ScoreComponent, 0, n*6)
	for i := range int32(n) {
		x := &e.Nodes[i]
		x.Node = c.nodes[i].Name
		if ns, ok := byNode[i]; ok {
			x.Outcome = outcomeNames[ns[0].outcome]
			texts := make([]string, len(ns))
			for k, nt := range ns {
				texts[k] = nt.text
			}
			x.Reason = strings.Join(texts, "; ")
			if r := reasons[i]; r != Eligible {
				x.Filter = r.Filter()
			}
			if x.Outcome != OutcomeStopped && (reasons[i] == Eligible || x.Outcome == OutcomePreempt) {
				own := x.Outcome == OutcomeKept
				comps, x.Scores, x.Score = c.breakdown(q, i, own, true, comps)
			}
		} else if r := reasons[i]; r != Eligible {
			x.Outcome = OutcomeRejected
			x.Filter = r.Filter()
			x.Reason = c.rejectDetail(q, i, r)
		} else {
			x.Outcome = OutcomeEligible
			x.Reason = "passed every filter; ranked below the chosen nodes"
			comps, x.Scores, x.Score = c.breakdown(q, i, false, false, comps)
		}
		e.Counts[x.Outcome]++
	}
	return e
}

// breakdown appends node i's score components to comps and returns them
// with their weighted total. The spread part counts the other replicas.
func (c *Cluster) breakdown(q *query, i int32, own, holds bool, comps []ScoreComponent) ([]ScoreComponent, []ScoreComponent, float64) {
	p := c.baseParts(q, i, own)
	if holds {
		c.count(i, -1)
	}
	s := &c.scratch
	gw, site := s.gwCount[c.gateway(i)], s.siteCnt[c.site[i]]
	p.spread = spreadScore(gw, site)
	if holds {
		c.count(i, 1)
	}
	start := len(comps)
	if q.w.lat > 0 {
		d := q.dist[i]
		detail := "no path to the target"
		if d < unreachable {
			how := "through the tree"
			if q.near.direct()[i] {
				how = "measured"
			}
			detail = time.Duration(d).String() + " " + how
		}
		comps = append(comps, ScoreComponent{Name: ScoreLatency, Value: p.lat, Weight: q.w.lat, Detail: detail})
	}
	comps = append(comps,
		ScoreComponent{Name: ScoreBenchmark, Value: p.bench, Weight: q.w.bench},
		ScoreComponent{Name: ScoreLoad, Value: p.load, Weight: q.w.load},
		ScoreComponent{Name: ScoreThermal, Value: p.thermal, Weight: q.w.thermal},
		ScoreComponent{Name: ScoreSpread, Value: p.spread, Weight: q.w.spread},
		ScoreComponent{Name: ScorePack, Value: p.pack, Weight: q.w.pack},
	)
	return comps, comps[start:len(comps):len(comps)], p.total(&q.w)
}

// healthDetail says why node i fails the health filter.
func (c *Cluster) healthDetail(q *query, i int32) string {
	nd := c.nodes[i]
	if nd.Health == kernel.HealthReady {
		ago := time.Duration(q.now - c.lastSeen[i]).Round(time.Second)
		return fmt.Sprintf("node %s not seen for %s", nd.Name, ago)
	}
	if nd.Health == "" {
		return fmt.Sprintf("node %s has reported no health", nd.Name)
	}
	return fmt.Sprintf("node %s is %s", nd.Name, nd.Health)
}

// rejectDetail says, in a sentence, why filter r rejected node i.
func (c *Cluster) rejectDetail(q *query, i int32, r Reason) string {
	nd := c.nodes[i]
	d := q.dep
	switch r {
	case RejectHealth:
		return c.healthDetail(q, i)
	case RejectLabels:
		keys := make([]string, 0, len(d.Selector.Labels))
		for k := range d.Selector.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if got, ok := nd.Labels[k]; !ok {
				return fmt.Sprintf("selector wants %s=%s, node has no %s label", k, d.Selector.Labels[k], k)
			} else if got != d.Selector.Labels[k] {
				return fmt.Sprintf("selector wants %s=%s, node has %s=%s", k, d.Selector.Labels[k], k, got)
			}
		}
		return "selector labels do not match"
	case RejectArch:
		return fmt.Sprintf("arch %q is not in selector.arch %v", nd.Capability.Arch, d.Selector.Arch)
	case RejectDevices:
		for _, k := range d.Requires.Devices {
			if !nd.Capability.HasDevice(k) {
				return fmt.Sprintf("no %s device attached", k)
			}
		}
		return "a required device is not attached"
	case RejectSensors:
		return fmt.Sprintf("no attached sensor publishes on %s", strings.Join(d.Requires.Sensors, " and "))
	case RejectScore:
		return fmt.Sprintf("benchmark score %d is below requires.score %d", c.bench[i], d.Requires.Score)
	case RejectLatency:
		if len(q.near.targets) == 0 {
			return fmt.Sprintf("no node matches near %s", nearKey(d.Near))
		}
		if q.dist[i] >= unreachable {
			return fmt.Sprintf("no path to near %s", nearKey(d.Near))
		}
		return fmt.Sprintf("%s to near %s exceeds maxLatency %s", time.Duration(q.dist[i]), nearKey(d.Near), d.Near.MaxLatency)
	case RejectMemoryTotal:
		return fmt.Sprintf("%s allocatable in total, task needs %s", kernel.Bytes(c.memAlloc[i]), kernel.Bytes(q.needMem))
	case RejectMemory:
		return fmt.Sprintf("needs %s of memory, %s left after placed tasks", kernel.Bytes(q.needMem), kernel.Bytes(max(c.memFree[i], 0))) + c.preemptNote(q, i)
	case RejectCPU:
		return fmt.Sprintf("needs %.3f reference cores, %.3f left after placed tasks", q.demand.CPU, max(c.cpuFree[i], 0)) + c.preemptNote(q, i)
	}
	return "eligible"
}

// preemptNote says, for a node short of room, whether the deployment's
// priority could make room there.
func (c *Cluster) preemptNote(q *query, i int32) string {
	if q.dep.Priority == 0 || q.dep.Every {
		return ""
	}
	if v, ok := c.victimsOn(q, i); ok {
		return fmt.Sprintf("; stopping %d lower-priority task(s) would make room, if no free node were left", len(v.tasks))
	}
	return fmt.Sprintf("; lower-priority tasks (below %d) would not free enough", q.dep.Priority)
}
