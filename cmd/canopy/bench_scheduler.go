package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
	"github.com/canopy-fleet/canopy/kernel/sched/fleetgen"
	"github.com/canopy-fleet/canopy/kernel/sched/naive"
)

func init() {
	registerBenchSuite(benchSuite{
		Name:  "scheduler",
		Short: "placements per second and decision time on generated 1,000- and 10,000-node fleets, against a naive scheduler",
		Run:   runSchedulerBench,
	})
}

// nomadPlacementsPerSec is Nomad's best published scheduler throughput, as
// issue 5 quotes it (from its million-container challenge), for reference
// only: another machine and workload.
const nomadPlacementsPerSec = 3750

// schedBenchSize is one fleet size and how much work to measure on it.
type schedBenchSize struct {
	nodes       int
	deployments int // placed by Canopy's scheduler
	naive       int // placed by the naive baseline (it is slow)
}

func runSchedulerBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	sizes := []schedBenchSize{{1000, 3000, 1000}, {10000, 2000, 200}}
	if opts.Quick {
		sizes = []schedBenchSize{{1000, 200, 20}, {10000, 100, 4}}
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // generated fleets are relative to it
	var out []benchResult
	for _, sz := range sizes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintf(opts.Log, "scheduler: generating a %d-node fleet\n", sz.nodes)
		f := fleetgen.Generate(fleetgen.Config{Nodes: sz.nodes, Seed: 1}, now)
		work := f.Workload(sz.deployments, 2)
		// The machine is shared: repeat on a fresh cluster and keep the
		// median run, so one burst of other work does not decide the figure.
		reps := 5
		if opts.Quick {
			reps = 1
		}
		var runs []schedFigures
		for range reps {
			r, err := measureCanopy(ctx, f, work, now)
			if err != nil {
				return nil, err
			}
			runs = append(runs, r)
		}
		slices.SortFunc(runs, func(a, b schedFigures) int { return cmp.Compare(a.rate, b.rate) })
		res := runs[len(runs)/2]
		spread := fmt.Sprintf("median of %d runs (%.0f..%.0f/s)", reps, runs[0].rate, runs[len(runs)-1].rate)
		base := measureNaive(f, work[:sz.naive], now)
		// The ratio compares the same deployments: Canopy's first
		// sz.naive decisions against the baseline's.
		same := float64(res.placedFirst(sz.naive)) / res.totalFirst(sz.naive).Seconds()
		label := fmt.Sprintf("%d nodes", sz.nodes)
		target := ""
		if sz.nodes == 10000 {
			target = ">= 20000/s"
		}
		out = append(out,
			benchResult{Name: "placements/s, " + label, Value: res.rate, Unit: "/s", Baseline: base.rate, Ratio: same / base.rate, Target: target,
				Note: fmt.Sprintf("%s; %d deployments, %d replicas placed; baseline: naive filter+sort-all on the first %d (ratio on those: %.0f/s vs %.0f/s); nomad's published ~%d/s is %.1fx below",
					spread, len(work), res.placed, sz.naive, same, base.rate, nomadPlacementsPerSec, res.rate/nomadPlacementsPerSec)},
			benchResult{Name: "decision p99, " + label, Value: ms(res.p99), Unit: "ms", Baseline: ms(base.p99),
				Note: fmt.Sprintf("median %.3f ms (baseline %.3f ms)", ms(res.p50), ms(base.p50))},
			benchResult{Name: "snapshot index, " + label, Value: ms(res.index), Unit: "ms",
				Note: "NewCluster, once per snapshot; not in the decision figures"},
		)
		if sz.nodes == 10000 {
			re, err := measureRedecide(f, work, now)
			if err != nil {
				return nil, err
			}
			out = append(out, re)
			ex, err := measureExplain(f, work, now, opts.Quick)
			if err != nil {
				return nil, err
			}
			out = append(out, ex...)
		}
	}
	return out, nil
}

type schedFigures struct {
	rate          float64
	p50, p99      time.Duration
	placed        int
	index         time.Duration
	decisionTotal time.Duration
	times         []time.Duration // per decision, in order
	placedEach    []int
}

func (f *schedFigures) placedFirst(n int) int {
	sum := 0
	for _, p := range f.placedEach[:min(n, len(f.placedEach))] {
		sum += p
	}
	return sum
}

func (f *schedFigures) totalFirst(n int) time.Duration {
	var sum time.Duration
	for _, d := range f.times[:min(n, len(f.times))] {
		sum += d
	}
	return sum
}

// measureCanopy places every deployment in turn on one cluster, applying
// each plan, and times each decision.
func measureCanopy(ctx context.Context, f *fleetgen.Fleet, work []kernel.Deployment, now time.Time) (schedFigures, error) {
	var fig schedFigures
	start := time.Now()
	c, err := sched.NewCluster(&f.Snapshot, sched.Config{})
	if err != nil {
		return fig, err
	}
	fig.index = time.Since(start)
	times := make([]time.Duration, 0, len(work))
	for i := range work {
		if i%256 == 0 && ctx.Err() != nil {
			return fig, ctx.Err()
		}
		req := sched.Request{Deployment: work[i], Version: 1, Now: now}
		t := time.Now()
		dec, err := c.Place(&req)
		if err == nil {
			err = c.Apply(&dec.Plan)
		}
		d := time.Since(t)
		if err != nil {
			return fig, fmt.Errorf("place %s: %w", work[i].Name, err)
		}
		times = append(times, d)
		fig.decisionTotal += d
		fig.placed += len(dec.Plan.Place) + len(dec.Plan.Move)
		fig.placedEach = append(fig.placedEach, len(dec.Plan.Place)+len(dec.Plan.Move))
	}
	fig.times = times
	fig.rate = float64(fig.placed) / fig.decisionTotal.Seconds()
	fig.p50, fig.p99 = percentile(times, 0.5), percentile(times, 0.99)
	return fig, nil
}

// measureNaive runs the baseline on the same fleet and deployments. It
// does not apply its placements (it has no incremental state to apply them
// to), which only flatters it.
func measureNaive(f *fleetgen.Fleet, work []kernel.Deployment, now time.Time) schedFigures {
	var fig schedFigures
	times := make([]time.Duration, 0, len(work))
	for i := range work {
		t := time.Now()
		got := naive.Place(&f.Snapshot, &work[i], now)
		d := time.Since(t)
		times = append(times, d)
		fig.decisionTotal += d
		fig.placed += len(got)
	}
	fig.rate = float64(fig.placed) / fig.decisionTotal.Seconds()
	fig.p50, fig.p99 = percentile(times, 0.5), percentile(times, 0.99)
	return fig
}

// measureRedecide times the reconcile loop's common case: deciding again
// for deployments whose replicas all run, nothing having changed.
func measureRedecide(f *fleetgen.Fleet, work []kernel.Deployment, now time.Time) (benchResult, error) {
	c, err := sched.NewCluster(&f.Snapshot, sched.Config{})
	if err != nil {
		return benchResult{}, err
	}
	snap := f.Snapshot
	snap.Tasks = slices.Clone(snap.Tasks)
	snap.Deployments = append(slices.Clone(snap.Deployments), work...)
	for i := range work {
		dec, err := c.Place(&sched.Request{Deployment: work[i], Version: 1, Now: now})
		if err == nil {
			err = c.Apply(&dec.Plan)
		}
		if err != nil {
			return benchResult{}, err
		}
		for _, p := range dec.Plan.Place {
			snap.Tasks = append(snap.Tasks, kernel.Task{ID: p.Task, Deployment: p.Deployment, Version: p.Version,
				Node: p.Node, State: kernel.TaskRunning, StartedAt: now.Add(-time.Hour)})
		}
	}
	if c, err = sched.NewCluster(&snap, sched.Config{}); err != nil {
		return benchResult{}, err
	}
	times := make([]time.Duration, 0, 2*len(work))
	changed := 0
	for range 2 { // the second pass has every cache warm
		for i := range work {
			t := time.Now()
			dec, err := c.Place(&sched.Request{Deployment: work[i], Version: 1, Now: now})
			times = append(times, time.Since(t))
			if err != nil {
				return benchResult{}, err
			}
			if !dec.Plan.Empty() {
				changed++
			}
		}
	}
	return benchResult{Name: "re-decision, 10000 nodes", Value: ms(percentile(times, 0.5)), Unit: "ms",
		Note: fmt.Sprintf("a placed deployment decided again, nothing changed: median of %d, p99 %.3f ms; %d plans changed something",
			len(times), ms(percentile(times, 0.99)), changed)}, nil
}

// measureExplain times one decision with the full per-node explanation,
// and its JSON encoding, as `canopy explain` needs them.
func measureExplain(f *fleetgen.Fleet, work []kernel.Deployment, now time.Time, quick bool) ([]benchResult, error) {
	c, err := sched.NewCluster(&f.Snapshot, sched.Config{})
	if err != nil {
		return nil, err
	}
	runs := 40
	if quick {
		runs = 5
	}
	var decide, encode []time.Duration
	size := 0
	for i := range runs {
		req := sched.Request{Deployment: work[i%len(work)], Version: 1, Now: now, Explain: true}
		t := time.Now()
		dec, err := c.Place(&req)
		decide = append(decide, time.Since(t))
		if err != nil {
			return nil, err
		}
		t = time.Now()
		b, err := json.Marshal(dec.Explanation)
		encode = append(encode, time.Since(t))
		if err != nil {
			return nil, err
		}
		size = len(b)
	}
	return []benchResult{
		{Name: "explain, 10000 nodes", Value: ms(percentile(decide, 0.5)), Unit: "ms", Target: "<= 50ms",
			Note: fmt.Sprintf("decision with a verdict for every node, median of %d; p99 %.2f ms", runs, ms(percentile(decide, 0.99)))},
		{Name: "explain JSON, 10000 nodes", Value: ms(percentile(encode, 0.5)), Unit: "ms",
			Note: fmt.Sprintf("encoding/json of the explanation, %d KiB", size/1024)},
	}, nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(p*float64(len(s))), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
