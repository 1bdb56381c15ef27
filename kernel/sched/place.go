package sched

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/canopy-fleet/canopy/kernel"
)

// Decision is the outcome of one Place call.
type Decision struct {
	Plan Plan `json:"plan"`
	// Explanation is set when the request asked for it.
	Explanation *Explanation `json:"explanation,omitempty"`
}

// held is a live replica of the deployment being placed.
type held struct {
	task     int32
	node     int32
	deferred bool // should move but waits for the move budget
}

// homeless is a replica that must go elsewhere.
type homeless struct {
	task   int32
	urgent bool // its node is gone or down: it is not running anyway
	reason string
}

// Place decides where the replicas of req.Deployment run: it keeps healthy
// replicas where they are, places missing ones, moves those whose node no
// longer qualifies (at most Config.MaxMovesPerStep of them while they still
// run) and stops surplus ones. The cluster is not changed; call Apply to
// account for an accepted plan.
func (c *Cluster) Place(req *Request) (*Decision, error) {
	d := &req.Deployment
	if d.Name == "" {
		return nil, errors.New("place: deployment has no name")
	}
	if d.Replicas < 0 {
		return nil, fmt.Errorf("place %s: negative replicas %d", d.Name, d.Replicas)
	}
	policy := req.Policy
	if policy == "" {
		policy = c.cfg.Policy
	}
	if !validPolicy(policy) {
		return nil, fmt.Errorf("place %s: policy must be spread or binpack, got %q", d.Name, policy)
	}
	s := &c.scratch
	// The live replicas, in task-ID order.
	var existing []int32
	if id, ok := c.depIDs[d.Name]; ok {
		existing = slices.Clone(c.deps[id].tasks)
		slices.SortFunc(existing, func(a, b int32) int {
			return strings.Compare(string(c.tasks[a].task.ID), string(c.tasks[b].task.ID))
		})
	}
	s.replica.clear()
	for _, ti := range existing {
		if nd := c.tasks[ti].node; nd >= 0 {
			s.replica.set(nd)
		}
	}

	q := c.compile(req, policy)
	s.resetCounts()
	n := int32(len(c.nodes))
	dec := &Decision{Plan: Plan{Deployment: d.Name, Version: req.Version, Demand: q.demand, dep: d}}
	p := &dec.Plan

	// Filter and score the nodes that can pass: the hot loop. Nodes
	// outside q.drive fail some filter; which one is worked out only when
	// asked (explanations, an unplaced reason, preemption).
	cands := s.cands[:0]
	var sc *sortedScan // set when candidates are visited lazily, best first
	if q.drive != nil {
		for _, i := range q.drive {
			if !s.replica.has(i) && c.filter(q, i, true) == Eligible {
				cands = append(cands, cand{base: c.hotBase(q, i), idx: i})
			}
		}
	} else if ss := c.staticFor(q); ss != nil && !d.Every {
		sc = newSortedScan(ss)
	} else {
		for i := range n {
			if !s.replica.has(i) && c.filter(q, i, true) == Eligible {
				cands = append(cands, cand{base: c.hotBase(q, i), idx: i})
			}
		}
	}
	var reasons []Reason
	allReasons := func() []Reason {
		if reasons == nil {
			reasons = c.reasons(q)
		}
		return reasons
	}

	notes := &noteBook{}
	kept, lost, budgeted := c.sortExisting(q, existing, p, notes)
	desired := d.Replicas
	if d.Every {
		desired = len(kept) + len(cands)
	}
	kept, lost = c.scaleDown(q, kept, lost, desired, p, notes)
	for _, k := range kept {
		c.count(k.node, 1)
	}

	need := desired - len(kept)
	var picks []pick
	s.picked.clear()
	if d.Every {
		for _, cd := range cands {
			picks = append(picks, pick{idx: cd.idx, score: cd.base + c.spreadNow(q, cd.idx)})
			s.picked.set(cd.idx)
		}
	} else if need > 0 {
		picks, cands = c.selectTop(q, cands, sc, need, nil)
	}
	for k, pk := range picks {
		if k < len(lost) {
			c.move(q, lost[k], pk.idx, lost[k].reason, p, notes)
			notes.add(pk.idx, outcomePlaced, "replaces "+string(c.tasks[lost[k].task].task.ID)+": "+lost[k].reason, pk.score)
			continue
		}
		p.Place = append(p.Place, c.placement(q, pk.idx))
		notes.add(pk.idx, outcomePlaced, "new replica", pk.score)
	}
	unplaced := need - len(picks)
	if len(picks) < len(lost) {
		lost = lost[len(picks):]
	} else {
		lost = nil
	}
	if unplaced > 0 && !d.Every && d.Priority > 0 {
		unplaced, lost = c.preempt(q, allReasons(), unplaced, lost, p, notes)
	}
	for _, h := range lost {
		t := &c.tasks[h.task]
		if h.urgent {
			p.Stop = append(p.Stop, Stop{Task: t.task.ID, Deployment: d.Name, Node: t.task.Node,
				Reason: h.reason + "; no eligible node for a replacement"})
			continue
		}
		// Still running and nowhere better to go: it stays.
		unplaced--
		p.DeferredMoves++
		kept = append(kept, held{task: h.task, node: t.node, deferred: true})
		notes.add(t.node, outcomeKept, h.reason+"; stays: no eligible node to move to", 0)
	}
	if unplaced > 0 {
		p.Unplaced = unplaced
		if sc != nil {
			cands = c.visitAll(q, sc, cands)
		}
		p.UnplacedReason = c.unplacedReason(allReasons(), len(cands))
	}
	if !d.Every && c.cfg.RebalanceMargin >= 0 {
		movesLeft := max(c.cfg.MaxMovesPerStep, 0) - budgeted
		if sc != nil && movesLeft > 0 && len(kept) > 0 {
			// Only a node scoring above the worst replica by the margin can
			// take it: visit until no node left can.
			if w, ws := c.worstKept(q, kept); w >= 0 {
				thr := ws + c.cfg.RebalanceMargin
				for !sc.done() && sc.restBound(q) > thr {
					cands, _ = c.visitNext(q, sc, cands)
				}
			}
		}
		kept = c.rebalance(q, kept, cands, movesLeft, p, notes)
	}
	s.cands = cands[:0] // keep the grown buffer
	p.Kept = len(kept)
	for _, k := range kept {
		if !k.deferred {
			notes.add(k.node, outcomeKept, "replica "+string(c.tasks[k.task].task.ID)+" stays: its node passes every filter", 0)
		}
	}
	if req.Explain {
		c.fullDistances(q)
		dec.Explanation = c.explain(q, req, allReasons(), notes, desired)
	}
	return dec, nil
}

// urgentPrefix starts the reason of a replica that must be replaced
// because it is not running anymore.
const urgentPrefix = "lost: "

// sortExisting splits the live replicas into those that stay and those
// that must go elsewhere, and says how much of the move budget the
// running ones that must go took.
func (c *Cluster) sortExisting(q *query, existing []int32, p *Plan, notes *noteBook) ([]held, []homeless, int) {
	s := &c.scratch
	s.one.clear()
	var kept []held
	var lost []homeless
	budget := max(c.cfg.MaxMovesPerStep, 0)
	for _, ti := range existing {
		t := &c.tasks[ti]
		nd := t.node
		var r Reason
		if nd >= 0 {
			r = c.filter(q, nd, false)
		}
		switch {
		case nd < 0:
			lost = append(lost, homeless{task: ti, urgent: true, reason: urgentPrefix + "node " + string(t.task.Node) + " is not in the cluster"})
		case s.one.has(nd):
			p.Stop = append(p.Stop, Stop{Task: t.task.ID, Deployment: q.dep.Name, Node: t.task.Node, Reason: "a second replica on the same node"})
		case r == Eligible:
			s.one.set(nd)
			kept = append(kept, held{task: ti, node: nd})
		case r == RejectHealth && c.nodes[nd].Health != kernel.HealthDrained:
			s.one.set(nd)
			lost = append(lost, homeless{task: ti, urgent: true, reason: urgentPrefix + c.healthDetail(q, nd)})
		case q.dep.Every:
			s.one.set(nd)
			p.Stop = append(p.Stop, Stop{Task: t.task.ID, Deployment: q.dep.Name, Node: t.task.Node,
				Reason: "node no longer qualifies: " + r.Filter()})
			notes.add(nd, outcomeStopped, "replica stops: "+c.rejectDetail(q, nd, r), 0)
		case budget > 0:
			s.one.set(nd)
			budget--
			lost = append(lost, homeless{task: ti, reason: "node no longer qualifies: " + c.rejectDetail(q, nd, r)})
		default:
			s.one.set(nd)
			p.DeferredMoves++
			kept = append(kept, held{task: ti, node: nd, deferred: true})
			notes.add(nd, outcomeKept, "should move ("+c.rejectDetail(q, nd, r)+") but the move budget for this step is spent", 0)
		}
	}
	budgeted := max(c.cfg.MaxMovesPerStep, 0) - budget
	// Urgent replacements first: they are not running.
	slices.SortStableFunc(lost, func(a, b homeless) int {
		switch {
		case a.urgent == b.urgent:
			return 0
		case a.urgent:
			return -1
		}
		return 1
	})
	return kept, lost, budgeted
}

// scaleDown stops replicas beyond desired: replicas waiting to move first,
// then those not running, then the lowest scored.
func (c *Cluster) scaleDown(q *query, kept []held, lost []homeless, desired int, p *Plan, notes *noteBook) ([]held, []homeless) {
	if len(kept) > desired {
		scores := make([]float64, len(kept))
		for _, k := range kept {
			c.count(k.node, 1)
		}
		for i, k := range kept {
			c.count(k.node, -1)
			scores[i] = c.base(q, k.node, true) + c.spreadNow(q, k.node)
			c.count(k.node, 1)
		}
		for _, k := range kept {
			c.count(k.node, -1)
		}
		order := make([]int, len(kept))
		for i := range order {
			order[i] = i
		}
		rank := func(i int) int {
			switch {
			case kept[i].deferred:
				return 0
			case c.tasks[kept[i].task].task.State != kernel.TaskRunning:
				return 1
			}
			return 2
		}
		slices.SortStableFunc(order, func(a, b int) int {
			if ra, rb := rank(a), rank(b); ra != rb {
				return ra - rb
			}
			switch {
			case scores[a] < scores[b]:
				return -1
			case scores[a] > scores[b]:
				return 1
			}
			return int(kept[b].node - kept[a].node)
		})
		surplus := len(kept) - desired
		stop := make([]bool, len(kept))
		for _, i := range order[:surplus] {
			stop[i] = true
			t := &c.tasks[kept[i].task]
			p.Stop = append(p.Stop, Stop{Task: t.task.ID, Deployment: q.dep.Name, Node: t.task.Node, Reason: "surplus replica (scaling down)"})
			notes.add(kept[i].node, outcomeStopped, "surplus replica stops (scaling down)", scores[i])
		}
		out := kept[:0]
		for i, k := range kept {
			if !stop[i] {
				out = append(out, k)
			}
		}
		kept = out
	}
	slots := max(desired-len(kept), 0)
	if len(lost) > slots {
		for _, h := range lost[slots:] {
			t := &c.tasks[h.task]
			p.Stop = append(p.Stop, Stop{Task: t.task.ID, Deployment: q.dep.Name, Node: t.task.Node, Reason: "surplus replica (scaling down); " + h.reason})
		}
		lost = lost[:slots]
	}
	return kept, lost
}

// move replaces replica h with a new one on node to.
func (c *Cluster) move(q *query, h homeless, to int32, reason string, p *Plan, notes *noteBook) {
	t := &c.tasks[h.task]
	p.Move = append(p.Move, Move{Task: t.task.ID, From: t.task.Node, To: c.placement(q, to), Reason: reason})
	if t.node >= 0 {
		notes.add(t.node, outcomeStopped, "replica moves to "+string(c.nodes[to].Name)+": "+reason, 0)
	}
}

// rebalance moves up to budget healthy replicas to candidates not picked
// that score better by at least Config.RebalanceMargin, worst replica first.
func (c *Cluster) rebalance(q *query, kept []held, cands []cand, budget int, p *Plan, notes *noteBook) []held {
	if budget <= 0 || len(kept) == 0 {
		return kept
	}
	rest := make([]cand, 0, len(cands))
	for _, cd := range cands {
		if !c.scratch.picked.has(cd.idx) {
			rest = append(rest, cd)
		}
	}
	for ; budget > 0 && len(kept) > 0 && len(rest) > 0; budget-- {
		worst, worstScore := c.worstKept(q, kept)
		if worst < 0 {
			break
		}
		w := kept[worst]
		c.count(w.node, -1)
		best, bestScore := -1, 0.0
		for i := range rest {
			sc := rest[i].base + c.spreadNow(q, rest[i].idx)
			if best < 0 || sc > bestScore || (sc == bestScore && rest[i].idx < rest[best].idx) {
				best, bestScore = i, sc
			}
		}
		if bestScore <= worstScore+c.cfg.RebalanceMargin {
			c.count(w.node, 1)
			break
		}
		to := rest[best].idx
		reason := fmt.Sprintf("rebalance: %s scores %.2f, %s %.2f", c.nodes[to].Name, bestScore, c.nodes[w.node].Name, worstScore)
		c.move(q, homeless{task: w.task}, to, reason, p, notes)
		notes.add(to, outcomePlaced, reason, bestScore)
		c.count(to, 1)
		rest[best] = rest[len(rest)-1]
		rest = rest[:len(rest)-1]
		kept = slices.Delete(kept, worst, worst+1)
	}
	return kept
}

// worstKept is the running replica scoring lowest, counting the others'
// spread but not its own, and its score; -1 if none runs.
func (c *Cluster) worstKept(q *query, kept []held) (int, float64) {
	worst, worstScore := -1, 0.0
	for i, k := range kept {
		if k.deferred || c.tasks[k.task].task.State != kernel.TaskRunning {
			continue
		}
		c.count(k.node, -1)
		sc := c.base(q, k.node, true) + c.spreadNow(q, k.node)
		c.count(k.node, 1)
		if worst < 0 || sc < worstScore {
			worst, worstScore = i, sc
		}
	}
	return worst, worstScore
}

// unplacedReason names the filters that rejected the most nodes.
func (c *Cluster) unplacedReason(reasons []Reason, eligible int) string {
	var counts [numReasons]int
	for i, r := range reasons {
		if !c.scratch.replica.has(int32(i)) {
			counts[r]++
		}
	}
	type fc struct {
		r Reason
		n int
	}
	var fs []fc
	for r := Reason(1); r < numReasons; r++ {
		if counts[r] > 0 {
			fs = append(fs, fc{r, counts[r]})
		}
	}
	slices.SortStableFunc(fs, func(a, b fc) int { return b.n - a.n })
	var b strings.Builder
	fmt.Fprintf(&b, "%d eligible nodes, all used", eligible)
	for i, f := range fs {
		if i == 4 {
			break
		}
		fmt.Fprintf(&b, "; %d rejected by %s", f.n, f.r.Filter())
	}
	return b.String()
}
