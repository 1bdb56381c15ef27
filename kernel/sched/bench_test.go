package sched_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
	"github.com/canopy-fleet/canopy/kernel/sched/fleetgen"
	"github.com/canopy-fleet/canopy/kernel/sched/naive"
)

var benchNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// BenchmarkPlace places a workload of deployments one after another on a
// generated fleet, applying each plan; b.N counts decisions.
func BenchmarkPlace(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			f := fleetgen.Generate(fleetgen.Config{Nodes: size, Seed: 1}, benchNow)
			work := f.Workload(2000, 2)
			c, err := sched.NewCluster(&f.Snapshot, sched.Config{})
			if err != nil {
				b.Fatal(err)
			}
			placed := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%len(work) == 0 && i > 0 {
					b.StopTimer()
					c, _ = sched.NewCluster(&f.Snapshot, sched.Config{})
					b.StartTimer()
				}
				d, err := c.Place(&sched.Request{Deployment: work[i%len(work)], Version: 1, Now: benchNow})
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Apply(&d.Plan); err != nil {
					b.Fatal(err)
				}
				placed += len(d.Plan.Place) + len(d.Plan.Move)
			}
			b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
		})
	}
}

// BenchmarkExplain is one decision with the full per-node explanation.
func BenchmarkExplain(b *testing.B) {
	f := fleetgen.Generate(fleetgen.Config{Nodes: 10000, Seed: 1}, benchNow)
	work := f.Workload(20, 3)
	c, err := sched.NewCluster(&f.Snapshot, sched.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.Place(&sched.Request{Deployment: work[i%len(work)], Version: 1, Now: benchNow, Explain: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewCluster is the cost of indexing a snapshot.
func BenchmarkNewCluster(b *testing.B) {
	f := fleetgen.Generate(fleetgen.Config{Nodes: 10000, Seed: 1}, benchNow)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := sched.NewCluster(&f.Snapshot, sched.Config{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNaive is the baseline: the same workload placed by the naive
// filter-score-sort-all scheduler, without applying plans.
func BenchmarkNaive(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			f := fleetgen.Generate(fleetgen.Config{Nodes: size, Seed: 1}, benchNow)
			work := f.Workload(2000, 2)
			placed := 0
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				placed += len(naive.Place(&f.Snapshot, &work[i%len(work)], benchNow))
			}
			b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
		})
	}
}

// BenchmarkRedecide is the reconcile loop's common case: deciding again
// for a deployment whose replicas run, with nothing changed (the plan keeps
// every replica; rebalancing looks for a node better by the margin).
func BenchmarkRedecide(b *testing.B) {
	f := fleetgen.Generate(fleetgen.Config{Nodes: 10000, Seed: 1}, benchNow)
	work := f.Workload(2000, 2)
	c, err := sched.NewCluster(&f.Snapshot, sched.Config{})
	if err != nil {
		b.Fatal(err)
	}
	snap := f.Snapshot
	snap.Tasks = slices.Clone(snap.Tasks)
	snap.Deployments = append(slices.Clone(snap.Deployments), work...)
	for i := range work {
		d, err := c.Place(&sched.Request{Deployment: work[i], Version: 1, Now: benchNow})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Apply(&d.Plan); err != nil {
			b.Fatal(err)
		}
		for _, p := range d.Plan.Place {
			snap.Tasks = append(snap.Tasks, kernel.Task{ID: p.Task, Deployment: p.Deployment, Version: 1, Node: p.Node,
				State: kernel.TaskRunning, StartedAt: benchNow.Add(-time.Hour)})
		}
	}
	c, err = sched.NewCluster(&snap, sched.Config{})
	if err != nil {
		b.Fatal(err)
	}
	moves := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := c.Place(&sched.Request{Deployment: work[i%len(work)], Version: 1, Now: benchNow})
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Plan.Place) != 0 {
			b.Fatalf("%s: placed again", work[i%len(work)].Name)
		}
		moves += len(d.Plan.Move)
	}
	b.ReportMetric(float64(moves)/float64(b.N), "moves/op")
}
