package sched_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
)

// leaves returns n identical leaves l0..l(n-1), alternating between the
// two gateways.
func leaves(n int, mods ...func(int, *kernel.Node)) []kernel.Node {
	var out []kernel.Node
	for i := range n {
		gw := "gw-a"
		if i%2 == 1 {
			gw = "gw-b"
		}
		nd := node(fmt.Sprintf("l%d", i), gw)
		for _, m := range mods {
			m(i, &nd)
		}
		out = append(out, nd)
	}
	return out
}

func leafDep(name string, mods ...func(*kernel.Deployment)) kernel.Deployment {
	return dep(name, append([]func(*kernel.Deployment){func(d *kernel.Deployment) {
		d.Selector.Labels = map[string]string{"tier": "leaf"}
	}}, mods...)...)
}

func running(d, n string) kernel.Task {
	return kernel.Task{ID: kernel.TaskID(d + "-v1-" + n), Deployment: d, Version: 1, Node: kernel.NodeName(n),
		State: kernel.TaskRunning, StartedAt: now.Add(-time.Hour)}
}

func TestReplicasAndEvery(t *testing.T) {
	snap := &sched.Snapshot{Nodes: tree(leaves(6, func(i int, n *kernel.Node) {
		if i == 5 {
			n.Health = kernel.HealthDown
		}
	})...)}
	c := cluster(t, snap, sched.Config{})
	dec := place(t, c, leafDep("three", func(d *kernel.Deployment) { d.Replicas = 3 }))
	if got := placedOn(dec); len(got) != 3 {
		t.Fatalf("replicas 3: placed on %v", got)
	}
	every := place(t, c, leafDep("all", func(d *kernel.Deployment) { d.Every = true; d.Replicas = 0 }))
	got := placedOn(every)
	slices.Sort(got)
	if want := []string{"l0", "l1", "l2", "l3", "l4"}; !slices.Equal(got, want) {
		t.Fatalf("every: placed on %v, want %v (l5 is down)", got, want)
	}
	many := place(t, c, leafDep("many", func(d *kernel.Deployment) { d.Replicas = 9 }))
	if len(many.Plan.Place) != 5 || many.Plan.Unplaced != 4 || !strings.Contains(many.Plan.UnplacedReason, "rejected by health") {
		t.Fatalf("replicas 9 on 5 nodes: placed %d, unplaced %d (%s)", len(many.Plan.Place), many.Plan.Unplaced, many.Plan.UnplacedReason)
	}
}

func TestStableWhenNothingChanged(t *testing.T) {
	nodes := tree(leaves(8)...)
	d := leafDep("app", func(d *kernel.Deployment) { d.Replicas = 3; d.Near = &kernel.Near{Node: "l0"} })
	c := cluster(t, &sched.Snapshot{Nodes: nodes}, sched.Config{})
	first := place(t, c, d)
	if err := c.Apply(&first.Plan); err != nil {
		t.Fatal(err)
	}
	again := place(t, c, d)
	if !again.Plan.Empty() || again.Plan.Kept != 3 {
		t.Fatalf("second decision changes things: %+v", again.Plan)
	}
	// A much better node appearing is not reason enough below the margin,
	// and load changes on other nodes move nothing.
	var tasks []kernel.Task
	for _, p := range first.Plan.Place {
		tasks = append(tasks, running("app", string(p.Node)))
	}
	nodes2 := tree(leaves(8, func(i int, n *kernel.Node) {
		if i == 7 {
			n.Capability.Score = 900
		}
	})...)
	c2 := cluster(t, &sched.Snapshot{Nodes: nodes2, Tasks: tasks, Deployments: []kernel.Deployment{d}}, sched.Config{})
	if dec := place(t, c2, d); !dec.Plan.Empty() {
		t.Fatalf("moved without reason: %+v", dec.Plan)
	}
}

func TestDownNodeReplacedAndMovesBounded(t *testing.T) {
	d := leafDep("app", func(d *kernel.Deployment) { d.Replicas = 4 })
	tasks := []kernel.Task{running("app", "l0"), running("app", "l1"), running("app", "l2"), running("app", "l3")}
	nodes := tree(leaves(10, func(i int, n *kernel.Node) {
		switch i {
		case 0:
			n.Health = kernel.HealthDown
		case 1:
			n.LastSeen = now.Add(-time.Hour)
		case 2, 3:
			n.Labels["tier"] = "retired" // no longer matches: a disruptive move
		}
	})...)
	c := cluster(t, &sched.Snapshot{Nodes: nodes, Tasks: tasks, Deployments: []kernel.Deployment{d}}, sched.Config{MaxMovesPerStep: 1})
	dec := place(t, c, d)
	p := dec.Plan
	if len(p.Move) != 3 || p.DeferredMoves != 1 || p.Kept != 1 {
		t.Fatalf("moves %d (want 2 replacements + 1 budgeted), deferred %d, kept %d: %+v", len(p.Move), p.DeferredMoves, p.Kept, p)
	}
	from := map[kernel.NodeName]string{}
	for _, m := range p.Move {
		from[m.From] = m.Reason
	}
	if !strings.Contains(from["l0"], "is down") || !strings.Contains(from["l1"], "not seen") || !strings.Contains(from["l2"], "selector wants tier=leaf") {
		t.Fatalf("move reasons: %v", from)
	}
	if v := verdict(t, dec, "l3"); v.Outcome != sched.OutcomeKept || !strings.Contains(v.Reason, "move budget") {
		t.Fatalf("l3: %+v", v)
	}
	if err := c.Apply(&p); err != nil {
		t.Fatal(err)
	}
	next := place(t, c, d)
	if len(next.Plan.Move) != 1 || next.Plan.Move[0].From != "l3" || next.Plan.DeferredMoves != 0 {
		t.Fatalf("next step should move the deferred replica: %+v", next.Plan)
	}
}

func TestScaleDownStopsWorstFirst(t *testing.T) {
	d := leafDep("app", func(d *kernel.Deployment) { d.Replicas = 2 })
	tasks := []kernel.Task{running("app", "l0"), running("app", "l1"), running("app", "l2"), running("app", "l3")}
	tasks[2].State = kernel.TaskBackoff
	nodes := tree(leaves(4, func(i int, n *kernel.Node) {
		if i == 1 {
			n.Capability.Live.CPUPercent = 95
		}
	})...)
	c := cluster(t, &sched.Snapshot{Nodes: nodes, Tasks: tasks, Deployments: []kernel.Deployment{d}}, sched.Config{})
	dec := place(t, c, d)
	var stopped []string
	for _, s := range dec.Plan.Stop {
		stopped = append(stopped, string(s.Node))
	}
	slices.Sort(stopped)
	if !slices.Equal(stopped, []string{"l1", "l2"}) {
		t.Fatalf("stopped %v, want the backoff replica (l2) and the busiest (l1)", stopped)
	}
}

func TestRebalanceOnlyBeyondMargin(t *testing.T) {
	d := leafDep("app", func(d *kernel.Deployment) { d.Near = &kernel.Near{Node: "l3"} })
	tasks := []kernel.Task{running("app", "l0")}
	nodes := tree(leaves(4, func(i int, n *kernel.Node) {
		n.Parent, n.Latency = "gw-a", map[kernel.NodeName]time.Duration{"gw-a": 2 * time.Millisecond}
		if i == 0 {
			n.Parent, n.Latency = "gw-b", map[kernel.NodeName]time.Duration{"gw-b": 40 * time.Millisecond}
		}
	})...)
	snap := &sched.Snapshot{Nodes: nodes, Tasks: tasks, Deployments: []kernel.Deployment{d}}
	dec := place(t, cluster(t, snap, sched.Config{}), d)
	if len(dec.Plan.Move) != 1 || !strings.HasPrefix(dec.Plan.Move[0].Reason, "rebalance") {
		t.Fatalf("a replica 90ms from its target should move next to it: %+v", dec.Plan)
	}
	if dec := place(t, cluster(t, snap, sched.Config{RebalanceMargin: -1}), d); !dec.Plan.Empty() {
		t.Fatalf("rebalancing disabled but: %+v", dec.Plan)
	}
	if dec := place(t, cluster(t, snap, sched.Config{MaxMovesPerStep: -1}), d); !dec.Plan.Empty() {
		t.Fatalf("no moves allowed but: %+v", dec.Plan)
	}
}

// TestAdaptiveDemand: a manifest declares 256MiB, so no 512MiB board fits;
// the replicas running were measured at 20MiB, so now they do.
func TestAdaptiveDemand(t *testing.T) {
	d := leafDep("app", func(d *kernel.Deployment) { d.Limits.Memory = 256 * kernel.MiB; d.Replicas = 3 })
	small := func(i int, n *kernel.Node) {
		n.Capability.Memory, n.Capability.Live.MemoryFree = 300*kernel.MiB, 280*kernel.MiB
	}
	fresh := cluster(t, &sched.Snapshot{Nodes: tree(leaves(3, small)...)}, sched.Config{})
	if got := fresh.DemandOf(&d); got.Memory != 256*kernel.MiB || got.Learned {
		t.Fatalf("declared demand %+v", got)
	}
	if dec := place(t, fresh, d); len(dec.Plan.Place) != 0 {
		t.Fatalf("256MiB placed on 320MiB boards: %+v", dec.Plan.Place)
	}
	tasks := []kernel.Task{{ID: "app-v1-big", Deployment: "app", Version: 1, Node: "big", State: kernel.TaskRunning,
		Usage: kernel.TaskUsage{MemoryPeak: 20 * kernel.MiB, CPUPerMessage: 2 * time.Millisecond, MessageRate: 10, Messages: 5000}}}
	big := node("big", "gw-a", func(n *kernel.Node) { n.Capability.Score = 2000 })
	learned := cluster(t, &sched.Snapshot{Nodes: tree(append(leaves(3, small), big)...), Tasks: tasks, Deployments: []kernel.Deployment{d}}, sched.Config{})
	got := learned.DemandOf(&d)
	if !got.Learned || got.Memory != 25*kernel.MiB || got.Samples != 1 {
		t.Fatalf("learned demand %+v, want 25MiB (20MiB + 25%%)", got)
	}
	// 2ms per message at 10/s on a 2000-score node is 0.04 reference cores.
	if got.CPU < 0.0499 || got.CPU > 0.0501 {
		t.Fatalf("learned CPU %v, want 0.05 (0.04 + 25%%)", got.CPU)
	}
	dec := place(t, learned, d)
	if len(dec.Plan.Place) != 2 || dec.Plan.Kept != 1 || dec.Plan.Demand.Memory != 25*kernel.MiB {
		t.Fatalf("learned demand should fit the small boards: %+v", dec.Plan)
	}
}

// TestPreemption: leaves are full of lower-priority tasks; a
// higher-priority deployment makes room by stopping the least important
// tasks first, and the fewest of them.
func TestPreemption(t *testing.T) {
	deps := []kernel.Deployment{
		dep("mid", func(d *kernel.Deployment) { d.Priority = 100; d.Limits.Memory = 1900 * kernel.MiB }),
		dep("low-half", func(d *kernel.Deployment) { d.Priority = 10; d.Limits.Memory = 950 * kernel.MiB }),
		dep("low-all", func(d *kernel.Deployment) { d.Priority = 10; d.Limits.Memory = 1900 * kernel.MiB }),
	}
	task := func(d, n string) kernel.Task {
		return kernel.Task{ID: kernel.TaskID(d + "-" + n), Deployment: d, Version: 1, Node: kernel.NodeName(n), State: kernel.TaskRunning}
	}
	// Leaves of 2GiB: 1984MiB allocatable, 84MiB left on each.
	small := func(i int, n *kernel.Node) { n.Capability.Memory = 2 * kernel.GiB }
	base := []kernel.Task{task("mid", "l0"), task("low-half", "l1"), {ID: "low-half-l1b", Deployment: "low-half", Version: 1, Node: "l1", State: kernel.TaskRunning}}
	hi := leafDep("hi", func(d *kernel.Deployment) { d.Priority = 500; d.Limits.Memory = 1100 * kernel.MiB })

	// l0 needs one priority-100 victim, l1 two priority-10 ones: the
	// least important win.
	c := cluster(t, &sched.Snapshot{Nodes: tree(leaves(2, small)...), Tasks: base, Deployments: deps}, sched.Config{})
	dec := place(t, c, hi)
	if got := placedOn(dec); len(got) != 1 || got[0] != "l1" {
		t.Fatalf("placed on %v, want l1: %+v", got, dec.Plan)
	}
	if len(dec.Plan.Stop) != 2 || dec.Plan.Stop[0].Deployment != "low-half" || !dec.Plan.Stop[0].Preempted ||
		!strings.Contains(dec.Plan.Stop[0].Reason, "preempted by hi (priority 500 > 10)") {
		t.Fatalf("victims: %+v", dec.Plan.Stop)
	}
	if v := verdict(t, dec, "l1"); v.Outcome != sched.OutcomePreempt || !strings.Contains(v.Reason, "preempts 2 task(s)") {
		t.Fatalf("l1: %+v", v)
	}
	if err := c.Apply(&dec.Plan); err != nil {
		t.Fatal(err)
	}
	if mem, _, _ := c.Free("l1"); mem < 0 {
		t.Fatalf("l1 over capacity after preemption: %v free", mem)
	}

	// With l2 holding one priority-10 task, the fewest victims win.
	c = cluster(t, &sched.Snapshot{Nodes: tree(leaves(3, small)...), Tasks: append(base, task("low-all", "l2")), Deployments: deps}, sched.Config{})
	dec = place(t, c, hi)
	if got := placedOn(dec); len(got) != 1 || got[0] != "l2" || len(dec.Plan.Stop) != 1 || dec.Plan.Stop[0].Task != "low-all-l2" {
		t.Fatalf("want l2 with one victim: %+v", dec.Plan)
	}

	// Equal priority preempts nothing.
	peer := leafDep("peer", func(d *kernel.Deployment) { d.Priority = 10; d.Limits.Memory = 1000 * kernel.MiB })
	dec = place(t, c, peer)
	if len(dec.Plan.Stop) != 0 || dec.Plan.Unplaced != 1 || !strings.Contains(dec.Plan.UnplacedReason, "resources.memory") {
		t.Fatalf("equal priority: %+v", dec.Plan)
	}
	if v := verdict(t, dec, "l0"); v.Filter != "resources.memory" || !strings.Contains(v.Reason, "lower-priority tasks (below 10) would not free enough") {
		t.Fatalf("l0 for peer: %+v", v)
	}
}

func TestPolicyOverrideAndErrors(t *testing.T) {
	c := cluster(t, &sched.Snapshot{Nodes: tree(leaves(2)...)}, sched.Config{})
	for _, tc := range []struct {
		req  sched.Request
		want string
	}{
		{sched.Request{Deployment: kernel.Deployment{}}, "no name"},
		{sched.Request{Deployment: leafDep("x"), Policy: "random"}, `policy must be spread or binpack, got "random"`},
		{sched.Request{Deployment: kernel.Deployment{Name: "x", Replicas: -1}}, "negative replicas"},
	} {
		if _, err := c.Place(&tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	dec, err := c.Place(&sched.Request{Deployment: leafDep("x"), Policy: sched.PolicyBinpack, Now: now, Explain: true})
	if err != nil || dec.Explanation.Policy != sched.PolicyBinpack {
		t.Fatalf("override: %v %+v", err, dec)
	}
	bad := sched.Plan{Deployment: "x", Place: []kernel.Placement{{Task: "t", Deployment: "x", Node: "nowhere"}}}
	if err := c.Apply(&bad); err == nil || !strings.Contains(err.Error(), `unknown node "nowhere"`) {
		t.Fatalf("apply unknown node: %v", err)
	}
}
