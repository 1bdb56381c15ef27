package sched_test

import (
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
)

// TestUpdateLiveMatchesRebuild: a heartbeat applied to a cluster gives the
// same decisions as a cluster built from a snapshot with that heartbeat.
func TestUpdateLiveMatchesRebuild(t *testing.T) {
	nodes := tree(leaves(6)...)
	d := leafDep("app", func(d *kernel.Deployment) { d.Replicas = 2 })
	tasks := []kernel.Task{{ID: "other-1", Deployment: "other", Node: "l2", State: kernel.TaskPending}}
	c := cluster(t, &sched.Snapshot{Nodes: nodes, Tasks: tasks}, sched.Config{})
	live := kernel.LiveStats{CPUPercent: 97, MemoryFree: 2 * kernel.GiB, TempC: 80, TempLimitC: 85, MeasuredAt: now}
	changed := []struct {
		name   kernel.NodeName
		health kernel.Health
		live   kernel.LiveStats
	}{
		{"l0", kernel.HealthDown, nodes[3].Capability.Live},
		{"l1", kernel.HealthReady, live},
		{"l2", kernel.HealthReady, live},
	}
	for _, ch := range changed {
		if err := c.UpdateLive(ch.name, ch.health, now, ch.live); err != nil {
			t.Fatal(err)
		}
		for i := range nodes {
			if nodes[i].Name == ch.name {
				nodes[i].Health, nodes[i].LastSeen, nodes[i].Capability.Live = ch.health, now, ch.live
			}
		}
	}
	rebuilt := cluster(t, &sched.Snapshot{Nodes: nodes, Tasks: tasks}, sched.Config{})
	a, b := place(t, c, d), place(t, rebuilt, d)
	if planJSON(t, a.Plan) != planJSON(t, b.Plan) {
		t.Fatalf("after updates:\n%s\nrebuilt:\n%s", planJSON(t, a.Plan), planJSON(t, b.Plan))
	}
	for _, n := range []string{"l0", "l1", "l2", "l3"} {
		if x, y := verdict(t, a, n), verdict(t, b, n); x.Reason != y.Reason || x.Score != y.Score {
			t.Fatalf("%s: %+v vs %+v", n, x, y)
		}
	}
	for _, n := range []string{"l0", "l1"} {
		if got := placedOn(a); strings.Contains(strings.Join(got, ","), n) {
			t.Fatalf("placed on %s after its heartbeat said down/busy: %v", n, got)
		}
	}
	if err := c.UpdateLive("nope", kernel.HealthReady, now, live); err == nil {
		t.Fatal("unknown node accepted")
	}
}
