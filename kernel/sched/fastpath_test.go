package sched_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
	"github.com/canopy-fleet/canopy/kernel/sched/fleetgen"
)

// TestSparseDistancesMatchDense: latencies computed only for the nodes a
// selector leaves equal those computed for the whole fleet.
func TestSparseDistancesMatchDense(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		f := fleetgen.Generate(fleetgen.Config{Nodes: 800, Seed: seed, Controllers: int(seed%3) + 1}, now)
		c := cluster(t, &f.Snapshot, sched.Config{})
		var all []kernel.NodeName
		for _, n := range f.Snapshot.Nodes {
			all = append(all, n.Name)
		}
		for _, nr := range []kernel.Near{
			{Topic: "sensors/" + f.Sites[0] + "/+/temperature"},
			{Topic: "sensors/#"},
			{Node: f.Gateways[int(seed)%len(f.Gateways)]},
			{Node: all[len(all)-1]},
			{Label: "zone=b"},
			{Topic: "nothing/matches"},
		} {
			dense, sparse := c.BothDistances(&nr, all)
			for i := range all {
				if dense[i] != sparse[i] {
					t.Fatalf("seed %d, near %+v, node %s: dense %d, sparse %d", seed, nr, all[i], dense[i], sparse[i])
				}
			}
		}
	}
}

// TestSelectionMatchesPlainGreedy: the bounded pool and lazy rescoring
// pick exactly what rescoring every candidate for every pick picks.
func TestSelectionMatchesPlainGreedy(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		f := fleetgen.Generate(fleetgen.Config{Nodes: 1500, Seed: seed}, now)
		c := cluster(t, &f.Snapshot, sched.Config{})
		for i, d := range f.Workload(20, seed) {
			for _, k := range []int{1, 3, 17, 60} {
				fast, slow := c.BothSelections(&sched.Request{Deployment: d, Version: 1, Now: now}, k)
				if !slices.Equal(fast, slow) {
					t.Fatalf("seed %d, deployment %d, k=%d:\nfast %v\nslow %v", seed, i, k, fast, slow)
				}
			}
		}
	}
}

// TestTopicTrieMatchesMatchTopic compares the trie with kernel.MatchTopic
// on generated topics and filters.
func TestTopicTrieMatchesMatchTopic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	levels := []string{"sensors", "a", "b", "$SYS", "", "temperature", "x"}
	var topics []string
	for range 300 {
		n := 1 + r.IntN(4)
		tp := ""
		for i := range n {
			if i > 0 {
				tp += "/"
			}
			tp += levels[r.IntN(len(levels))]
		}
		topics = append(topics, tp)
	}
	flevels := append(slices.Clone(levels), "+", "+")
	for range 2000 {
		n := 1 + r.IntN(4)
		f := ""
		for i := range n {
			if i > 0 {
				f += "/"
			}
			f += flevels[r.IntN(len(flevels))]
		}
		if r.IntN(4) == 0 {
			f += "/#"
		}
		if r.IntN(10) == 0 {
			f = "#"
		}
		checkTrie(t, topics, f)
	}
}

func checkTrie(t *testing.T, topics []string, filter string) {
	t.Helper()
	if kernel.ValidateTopicFilter(filter) != nil {
		return
	}
	var want []string
	for _, tp := range topics {
		if kernel.MatchTopic(filter, tp) {
			want = append(want, tp)
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if got := sched.TrieMatch(topics, filter); !slices.Equal(got, want) {
		t.Fatalf("filter %q: trie %q, MatchTopic %q", filter, got, want)
	}
}

// FuzzTopicTrie: for any topics and filter, the trie agrees with
// kernel.MatchTopic.
func FuzzTopicTrie(f *testing.F) {
	f.Add("sensors/a/temperature\nsensors/b/humidity\n$SYS/x", "sensors/+/temperature")
	f.Add("a\na/b\na/b/c", "a/#")
	f.Add("$SYS/a\nb", "#")
	f.Add("/a\n//\na/", "+/+")
	f.Fuzz(func(t *testing.T, topicList, filter string) {
		var topics []string
		for _, tp := range splitLines(topicList) {
			if kernel.ValidateTopicName(tp) == nil {
				topics = append(topics, tp)
			}
		}
		checkTrie(t, topics, filter)
	})
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// FuzzPlace decodes a manifest and, when it is valid, places it on a small
// generated fleet: nothing panics, and every node gets a verdict.
func FuzzPlace(f *testing.F) {
	f.Add([]byte("apiVersion: canopy/v1\nkind: Deployment\nname: a\nmodule: ./a.wasm\nreplicas: 3\n"))
	f.Add([]byte("apiVersion: canopy/v1\nkind: Deployment\nname: b\nmodule: ./b.wasm\nevery: true\nselector: {arch: [arm64]}\n"))
	f.Add([]byte("apiVersion: canopy/v1\nkind: Deployment\nname: c\nmodule: ./c.wasm\nnear: {topic: \"sensors/+/+/temperature\", maxLatency: 20ms}\nrequires: {memory: 1GiB, score: 500, devices: [gpu], sensors: [\"sensors/#\"]}\npriority: 900\n"))
	f.Add([]byte("apiVersion: canopy/v1\nkind: Deployment\nname: d\nmodule: ./d.wasm\nnear: {label: zone=a}\nselector: {labels: {site: plant-0, tier: leaf}}\nreplicas: 40\n"))
	fleet := fleetgen.Generate(fleetgen.Config{Nodes: 150, Seed: 3}, now)
	f.Fuzz(func(t *testing.T, manifest []byte) {
		d, err := kernel.ParseDeployment(manifest)
		if err != nil {
			return
		}
		c, err := sched.NewCluster(&fleet.Snapshot, sched.Config{})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := c.Place(&sched.Request{Deployment: *d, Version: 1, Now: now, Explain: true})
		if err != nil {
			t.Fatalf("valid manifest refused: %v", err)
		}
		if len(dec.Explanation.Nodes) != len(fleet.Snapshot.Nodes) {
			t.Fatal(fmt.Sprintf("%d verdicts for %d nodes", len(dec.Explanation.Nodes), len(fleet.Snapshot.Nodes)))
		}
		if err := c.Apply(&dec.Plan); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCachesDoNotChangeDecisions: with caches warm (near targets, latency
// scores, static sets scanned best first and stopped early) decisions are
// the same as scanning every node every time.
func TestCachesDoNotChangeDecisions(t *testing.T) {
	for _, tc := range []struct {
		nodes int
		seed  uint64
		cfg   sched.Config
	}{
		{2000, 11, sched.Config{RebalanceMargin: 0.05, MaxMovesPerStep: 3}},
		{1500, 14, sched.Config{}},
		{1500, 12, sched.Config{Policy: sched.PolicyBinpack}},
		{1000, 13, sched.Config{Weights: sched.Weights{Latency: 1, Benchmark: 5, Load: 1, Thermal: -1, Spread: 4, Pack: 1}}},
	} {
		f := fleetgen.Generate(fleetgen.Config{Nodes: tc.nodes, Seed: tc.seed}, now)
		work := f.Workload(80, tc.seed)
		plain := cluster(t, &f.Snapshot, tc.cfg)
		plain.ScanEverything()
		warm := cluster(t, &f.Snapshot, tc.cfg)
		var placed []kernel.Placement
		for _, d := range work {
			for range 2 { // warm every cache this deployment can use
				if _, err := warm.Place(&sched.Request{Deployment: d, Version: 1, Now: now}); err != nil {
					t.Fatal(err)
				}
			}
			a, err := plain.Place(&sched.Request{Deployment: d, Version: 1, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			b, err := warm.Place(&sched.Request{Deployment: d, Version: 1, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if x, y := planJSON(t, a.Plan), planJSON(t, b.Plan); x != y {
				t.Fatalf("seed %d, %s: plain %s\nwarm %s", tc.seed, d.Name, x, y)
			}
			if err := plain.Apply(&a.Plan); err != nil {
				t.Fatal(err)
			}
			if err := warm.Apply(&b.Plan); err != nil {
				t.Fatal(err)
			}
			placed = append(placed, b.Plan.Place...)
		}
		// Again, now that every deployment has replicas to keep; then
		// again with a third of the fleet hot and busy, so replicas move.
		again := func(what string) int {
			moves := 0
			for _, d := range work {
				a, _ := plain.Place(&sched.Request{Deployment: d, Version: 1, Now: now})
				b, _ := warm.Place(&sched.Request{Deployment: d, Version: 1, Now: now})
				if x, y := planJSON(t, a.Plan), planJSON(t, b.Plan); x != y {
					t.Fatalf("seed %d, %s %s: plain %s\nwarm %s", tc.seed, d.Name, what, x, y)
				}
				moves += len(a.Plan.Move)
				// Moves stop tasks: bounds of static sets must be rebuilt.
				if err := plain.Apply(&a.Plan); err != nil {
					t.Fatal(err)
				}
				if err := warm.Apply(&b.Plan); err != nil {
					t.Fatal(err)
				}
			}
			return moves
		}
		again("again")
		// A new snapshot: the placed replicas run, and a third of the
		// fleet runs hot and busy, so replicas should move.
		snap := f.Snapshot
		snap.Nodes = slices.Clone(snap.Nodes)
		snap.Deployments = append(slices.Clone(snap.Deployments), work...)
		snap.Tasks = slices.Clone(snap.Tasks)
		for _, pl := range placed {
			snap.Tasks = append(snap.Tasks, kernel.Task{ID: pl.Task, Deployment: pl.Deployment,
				Version: 1, Node: pl.Node, State: kernel.TaskRunning, StartedAt: now.Add(-time.Hour)})
		}
		hot := kernel.LiveStats{CPUPercent: 99, MemoryFree: 1 * kernel.GiB, TempC: 84, TempLimitC: 85, Throttled: true, MeasuredAt: now}
		for i := range snap.Nodes {
			if i%3 == 0 {
				snap.Nodes[i].Capability.Live = hot
			}
		}
		plain, warm = cluster(t, &snap, tc.cfg), cluster(t, &snap, tc.cfg)
		plain.ScanEverything()
		for _, d := range work {
			for range 2 {
				if _, err := warm.Place(&sched.Request{Deployment: d, Version: 1, Now: now}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if moves := again("with hot nodes"); moves == 0 && tc.cfg.RebalanceMargin > 0 {
			t.Fatalf("seed %d: no replica moved off hot, busy nodes", tc.seed)
		}
	}
}

// TestStaticBoundsFollowFreedNodes: a node whose task stops becomes the
// best choice; a decision that scans best-bound-first must see it, though
// its bound was low when the selector's static set was built.
func TestStaticBoundsFollowFreedNodes(t *testing.T) {
	nodes := tree(leaves(60, func(i int, n *kernel.Node) {
		if i == 0 {
			n.Capability.Score = 900
		}
	})...)
	hogDep := dep("hog", func(d *kernel.Deployment) { d.Limits.Memory = 3 * kernel.GiB })
	snap := &sched.Snapshot{Nodes: nodes, Deployments: []kernel.Deployment{hogDep},
		Tasks: []kernel.Task{{ID: "hog-1", Deployment: "hog", Node: "l0", State: kernel.TaskRunning}}}
	for _, scanAll := range []bool{true, false} {
		c := cluster(t, snap, sched.Config{})
		if scanAll {
			c.ScanEverything()
		}
		first := place(t, c, leafDep("one"))
		if got := placedOn(first); len(got) != 1 || got[0] == "l0" {
			t.Fatalf("while l0 is full: placed on %v", got)
		}
		if err := c.Apply(&sched.Plan{Deployment: "hog", Stop: []sched.Stop{{Task: "hog-1", Deployment: "hog", Node: "l0"}}}); err != nil {
			t.Fatal(err)
		}
		if got := placedOn(place(t, c, leafDep("two"))); len(got) != 1 || got[0] != "l0" {
			t.Fatalf("scan all %v: once l0 is free, placed on %v, want l0", scanAll, got)
		}
	}
}

// TestStaticBoundsFollowHeartbeats: the same when a heartbeat, not a
// stopped task, makes a node the best.
func TestStaticBoundsFollowHeartbeats(t *testing.T) {
	busy := kernel.LiveStats{CPUPercent: 95, MemoryFree: 3 * kernel.GiB, TempC: 84, TempLimitC: 85, Throttled: true, MeasuredAt: now}
	idle := kernel.LiveStats{CPUPercent: 1, MemoryFree: 3 * kernel.GiB, TempC: 40, TempLimitC: 85, MeasuredAt: now}
	nodes := tree(leaves(60, func(i int, n *kernel.Node) {
		if i == 0 {
			n.Capability.Score, n.Capability.Live = 900, busy
		}
	})...)
	for _, scanAll := range []bool{true, false} {
		c := cluster(t, &sched.Snapshot{Nodes: nodes}, sched.Config{})
		if scanAll {
			c.ScanEverything()
		}
		if got := placedOn(place(t, c, leafDep("one"))); len(got) != 1 || got[0] == "l0" {
			t.Fatalf("while l0 is busy: placed on %v", got)
		}
		if err := c.UpdateLive("l0", kernel.HealthReady, now, idle); err != nil {
			t.Fatal(err)
		}
		if got := placedOn(place(t, c, leafDep("two"))); len(got) != 1 || got[0] != "l0" {
			t.Fatalf("scan all %v: once l0 is idle, placed on %v, want l0", scanAll, got)
		}
	}
}
