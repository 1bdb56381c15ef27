package sched_test

import (
	"math"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
)

// TestScores puts two otherwise equal leaves side by side, changes one
// thing about "worse", and checks that the named score prefers "better"
// and that "better" is the node chosen.
func TestScores(t *testing.T) {
	cases := []struct {
		name   string
		score  string
		better func(*kernel.Node)
		worse  func(*kernel.Node)
		dep    func(*kernel.Deployment)
		cfg    sched.Config
	}{
		{name: "benchmark", score: sched.ScoreBenchmark, worse: func(n *kernel.Node) { n.Capability.Score = 200 }},
		{name: "load", score: sched.ScoreLoad, worse: func(n *kernel.Node) { n.Capability.Live.CPUPercent = 90 }},
		{name: "thermal", score: sched.ScoreThermal, worse: func(n *kernel.Node) { n.Capability.Live.TempC = 80 }},
		{name: "throttled", score: sched.ScoreThermal, worse: func(n *kernel.Node) { n.Capability.Live.Throttled = true }},
		{name: "latency to node", score: sched.ScoreLatency,
			better: func(n *kernel.Node) { n.Latency["sensor"] = 1 * time.Millisecond },
			worse:  func(n *kernel.Node) { n.Latency["sensor"] = 15 * time.Millisecond },
			dep:    func(d *kernel.Deployment) { d.Near = &kernel.Near{Node: "sensor"} }},
		{name: "latency through the tree", score: sched.ScoreLatency,
			worse: func(n *kernel.Node) {
				n.Parent = "gw-b"
				n.Latency = map[kernel.NodeName]time.Duration{"gw-b": 2 * time.Millisecond}
			},
			dep: func(d *kernel.Deployment) { d.Near = &kernel.Near{Node: "sensor"} }},
		{name: "latency to topic", score: sched.ScoreLatency,
			better: func(n *kernel.Node) { n.Latency["sensor"] = 1 * time.Millisecond },
			dep:    func(d *kernel.Deployment) { d.Near = &kernel.Near{Topic: "sensors/+/temperature"} }},
		{name: "latency to label", score: sched.ScoreLatency,
			worse: func(n *kernel.Node) { n.Latency["gw-a"] = 9 * time.Millisecond },
			dep:   func(d *kernel.Deployment) { d.Near = &kernel.Near{Label: "role=sensor"} }},
		{name: "spread packs emptier", score: sched.ScorePack, worse: func(n *kernel.Node) { n.Capability.Live.MemoryFree = 1 * kernel.GiB }},
		{name: "binpack packs fuller", score: sched.ScorePack, better: func(n *kernel.Node) { n.Capability.Live.MemoryFree = 1 * kernel.GiB },
			cfg: sched.Config{Policy: sched.PolicyBinpack}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sensor := node("sensor", "gw-a", func(n *kernel.Node) {
				n.Capability.Sensors = []string{"sensors/sensor/temperature"}
				n.Labels["role"] = "sensor"
				n.Health = kernel.HealthDrained // a target, never a candidate
			})
			b := node("better", "gw-a", mod(tc.better))
			w := node("worse", "gw-a", mod(tc.worse))
			d := dep("app", mod2(tc.dep), func(d *kernel.Deployment) { d.Selector.Labels = map[string]string{"tier": "leaf"} })
			dec := place(t, cluster(t, &sched.Snapshot{Nodes: tree(sensor, b, w)}, tc.cfg), d)
			if got := placedOn(dec); len(got) != 1 || got[0] != "better" {
				t.Fatalf("placed on %v, want [better]\nbetter: %+v\nworse:  %+v", got, verdict(t, dec, "better"), verdict(t, dec, "worse"))
			}
			vb, vw := verdict(t, dec, "better"), verdict(t, dec, "worse")
			if cb, cw := component(vb, tc.score), component(vw, tc.score); !(cb > cw) {
				t.Fatalf("%s: better %.3f, worse %.3f", tc.score, cb, cw)
			}
			for _, v := range []sched.NodeExplanation{vb, vw} {
				sum := 0.0
				for _, s := range v.Scores {
					if s.Value < 0 || s.Value > 1 {
						t.Errorf("%s %s = %v, outside 0..1", v.Node, s.Name, s.Value)
					}
					sum += s.Value * s.Weight
				}
				if math.Abs(sum-v.Score) > 1e-9 {
					t.Errorf("%s: breakdown sums to %v, score %v", v.Node, sum, v.Score)
				}
			}
		})
	}
}

func mod(f func(*kernel.Node)) func(*kernel.Node) {
	if f == nil {
		return func(*kernel.Node) {}
	}
	return f
}

func mod2(f func(*kernel.Deployment)) func(*kernel.Deployment) {
	if f == nil {
		return func(*kernel.Deployment) {}
	}
	return f
}

// TestSpreadAcrossGateways: with one good node under each gateway and a
// slightly better second node under gw-a, two replicas still take one
// node per gateway.
func TestSpreadAcrossGateways(t *testing.T) {
	nodes := tree(
		node("a1", "gw-a", func(n *kernel.Node) { n.Capability.Score = 700 }),
		node("a2", "gw-a", func(n *kernel.Node) { n.Capability.Score = 690 }),
		node("b1", "gw-b", func(n *kernel.Node) { n.Labels["site"] = "plant-2" }),
	)
	d := dep("app", func(d *kernel.Deployment) {
		d.Replicas = 2
		d.Selector.Labels = map[string]string{"tier": "leaf"}
	})
	c := cluster(t, &sched.Snapshot{Nodes: nodes}, sched.Config{})
	dec := place(t, c, d)
	got := placedOn(dec)
	if len(got) != 2 || got[0] != "a1" || got[1] != "b1" {
		t.Fatalf("placed on %v, want [a1 b1]", got)
	}
	if v := verdict(t, dec, "a2"); component(v, sched.ScoreSpread) >= component(verdict(t, dec, "b1"), sched.ScoreSpread) {
		t.Errorf("a2 spread %.2f not below b1's", component(v, sched.ScoreSpread))
	}
}

// TestLatencyPathAndMeasurement checks the latency figures explanations
// report: a path through the tree where nothing was measured, and the
// measurement where there is one.
func TestLatencyPathAndMeasurement(t *testing.T) {
	nodes := tree(
		node("target", "gw-a"),
		node("near", "gw-a", func(n *kernel.Node) { n.Latency["target"] = 700 * time.Microsecond }),
		node("cousin", "gw-a", func(n *kernel.Node) { n.Latency["gw-a"] = 3 * time.Millisecond }),
		node("far", "gw-b"),
		node("unmeasured", "gw-b", func(n *kernel.Node) { delete(n.Latency, "gw-b") }),
	)
	d := dep("app", func(d *kernel.Deployment) {
		d.Near = &kernel.Near{Node: "target"}
		d.Replicas = 5
		d.Selector.Labels = map[string]string{"tier": "leaf"}
	})
	dec := place(t, cluster(t, &sched.Snapshot{Nodes: nodes}, sched.Config{DefaultLinkLatency: 7 * time.Millisecond}), d)
	want := map[string]string{
		"target":     "0s through the tree",
		"near":       "700µs measured",
		"cousin":     "5ms through the tree",  // 3 + 2
		"far":        "54ms through the tree", // 2 + 30 + 20 + 2
		"unmeasured": "59ms through the tree", // 7 (default) + 30 + 20 + 2
	}
	for name, w := range want {
		v := verdict(t, dec, name)
		got := ""
		for _, s := range v.Scores {
			if s.Name == sched.ScoreLatency {
				got = s.Detail
			}
		}
		if got != w {
			t.Errorf("%s: latency %q, want %q", name, got, w)
		}
	}
}
