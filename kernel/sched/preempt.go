package sched

import (
	"fmt"
	"slices"
	"strings"
)

// victims is a way to make room on one node by preempting tasks.
type victims struct {
	node    int32
	tasks   []int32
	maxPrio int
	sumPrio int
	score   float64
}

// better orders ways to make room: least important victims first (lowest
// highest priority), then fewest, then lowest total priority, then the
// better-scored node, then name order.
func (v *victims) better(o *victims) bool {
	switch {
	case o.node < 0:
		return true
	case v.maxPrio != o.maxPrio:
		return v.maxPrio < o.maxPrio
	case len(v.tasks) != len(o.tasks):
		return len(v.tasks) < len(o.tasks)
	case v.sumPrio != o.sumPrio:
		return v.sumPrio < o.sumPrio
	case v.score != o.score:
		return v.score > o.score
	}
	return v.node < o.node
}

// preempt places up to unplaced replicas on nodes that lack room only
// because of lower-priority tasks, stopping the fewest and least important
// of them. Replicas in lost move first.
func (c *Cluster) preempt(q *query, reasons []Reason, unplaced int, lost []homeless, p *Plan, notes *noteBook) (int, []homeless) {
	taken := newBitset(len(c.nodes))
	for unplaced > 0 {
		best := victims{node: -1}
		for i := range int32(len(c.nodes)) {
			if !reasons[i].resources() || c.scratch.replica.has(i) || taken.has(i) {
				continue
			}
			if v, ok := c.victimsOn(q, i); ok && v.better(&best) {
				best = v
			}
		}
		if best.node < 0 {
			break
		}
		taken.set(best.node)
		ids := make([]string, len(best.tasks))
		for k, ti := range best.tasks {
			t := &c.tasks[ti]
			ids[k] = string(t.task.ID)
			p.Stop = append(p.Stop, Stop{Task: t.task.ID, Deployment: t.task.Deployment, Node: t.task.Node, Preempted: true,
				Reason: fmt.Sprintf("preempted by %s (priority %d > %d)", q.dep.Name, q.dep.Priority, c.deps[t.dep].priority())})
		}
		reason := fmt.Sprintf("preempts %d task(s) of priority at most %d: %s", len(best.tasks), best.maxPrio, strings.Join(ids, ", "))
		if len(lost) > 0 {
			c.move(q, lost[0], best.node, lost[0].reason, p, notes)
			lost = lost[1:]
		} else {
			p.Place = append(p.Place, c.placement(q, best.node))
		}
		notes.add(best.node, outcomePreempt, reason, best.score)
		c.count(best.node, 1)
		unplaced--
	}
	return unplaced, lost
}

// victimsOn finds the fewest, least important lower-priority tasks on node
// i whose removal leaves room for one replica.
func (c *Cluster) victimsOn(q *query, i int32) (victims, bool) {
	needMem := q.needMem - c.memFree[i]
	needCPU := q.demand.CPU - c.cpuFree[i]
	var pool []int32
	for _, ti := range c.onNode[i] {
		t := &c.tasks[ti]
		if t.task.Deployment != q.dep.Name && c.deps[t.dep].priority() < q.dep.Priority {
			pool = append(pool, ti)
		}
	}
	if len(pool) == 0 {
		return victims{}, false
	}
	prio := func(ti int32) int { return c.deps[c.tasks[ti].dep].priority() }
	slices.SortFunc(pool, func(a, b int32) int {
		if pa, pb := prio(a), prio(b); pa != pb {
			return pa - pb
		}
		return strings.Compare(string(c.tasks[a].task.ID), string(c.tasks[b].task.ID))
	})
	// The lowest priority level whose tasks together make room, then the
	// fewest of those: largest share of the shortfall first.
	var mem int64
	var cpu float64
	for j := 0; j < len(pool); j++ {
		mem += c.freedLive(pool[j])
		cpu += c.tasks[pool[j]].cpu
		if j+1 < len(pool) && prio(pool[j+1]) == prio(pool[j]) {
			continue
		}
		if mem < needMem || cpu < needCPU {
			continue
		}
		cands := slices.Clone(pool[:j+1])
		share := func(ti int32) float64 {
			t := &c.tasks[ti]
			s := 0.0
			if needMem > 0 {
				s = float64(c.freedLive(ti)) / float64(needMem)
			}
			if needCPU > 0 {
				s = max(s, t.cpu/needCPU)
			}
			return s
		}
		slices.SortStableFunc(cands, func(a, b int32) int {
			sa, sb := share(a), share(b)
			switch {
			case sa > sb:
				return -1
			case sa < sb:
				return 1
			}
			return prio(a) - prio(b)
		})
		v := victims{node: i, score: c.base(q, i, false)}
		var gotMem int64
		var gotCPU float64
		for _, ti := range cands {
			if gotMem >= needMem && gotCPU >= needCPU {
				break
			}
			v.tasks = append(v.tasks, ti)
			gotMem += c.freedLive(ti)
			gotCPU += c.tasks[ti].cpu
			v.maxPrio = max(v.maxPrio, prio(ti))
			v.sumPrio += prio(ti)
		}
		return v, true
	}
	return victims{}, false
}
