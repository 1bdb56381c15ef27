package score

import (
	"context"
	"math"
	"testing"
	"time"
)

// checkResult checks a Result's structure: every kernel measured, medians
// between the extremes, the score the geometric mean of the kernels'.
func checkResult(t *testing.T, r Result) {
	t.Helper()
	if r.Score <= 0 {
		t.Errorf("score %d, want > 0", r.Score)
	}
	if r.Elapsed <= 0 {
		t.Errorf("elapsed %s", r.Elapsed)
	}
	if len(r.Kernels) != 3 {
		t.Fatalf("%d kernels, want 3", len(r.Kernels))
	}
	logSum := 0.0
	for k, kr := range r.Kernels {
		if kr.Name != kernels[k].name {
			t.Errorf("kernel %d is %q, want %q", k, kr.Name, kernels[k].name)
		}
		if kr.Iterations < 1 || kr.PerIter <= 0 || kr.Score <= 0 {
			t.Errorf("kernel %s: %d iterations, %s per iteration, score %d", kr.Name, kr.Iterations, kr.PerIter, kr.Score)
		}
		if kr.Min > kr.PerIter || kr.PerIter > kr.Max {
			t.Errorf("kernel %s: median %s outside [%s, %s]", kr.Name, kr.PerIter, kr.Min, kr.Max)
		}
		want := int(math.Round(1000 * float64(kernels[k].ref) / float64(kr.PerIter)))
		if kr.Score != want {
			t.Errorf("kernel %s: score %d, want 1000*%s/%s = %d", kr.Name, kr.Score, kernels[k].ref, kr.PerIter, want)
		}
		logSum += math.Log(float64(kernels[k].ref) / float64(kr.PerIter))
	}
	if want := int(math.Round(1000 * math.Exp(logSum/3))); r.Score != want {
		t.Errorf("score %d, want the geometric mean %d", r.Score, want)
	}
}

func TestRunOnHost(t *testing.T) {
	r, err := Run(context.Background(), newHost(t), quick)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, r)
	t.Logf("score %d in %s: %+v", r.Score, r.Elapsed, r.Kernels)
}

// The default Config: the standard score, as the agent runs it.
func TestRunDefault(t *testing.T) {
	r, err := Run(context.Background(), newHost(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, r)
	for _, kr := range r.Kernels {
		if kr.Iterations < 2 {
			t.Errorf("kernel %s calibrated to %d iterations per round", kr.Name, kr.Iterations)
		}
	}
}

// stepClock advances by step at every reading: every timed call takes
// step, whatever its iteration count.
func stepClock(step time.Duration) func() time.Duration {
	var now time.Duration
	return func() time.Duration { now += step; return now }
}

// With a clock where every call takes 1ms, calibration and normalisation
// are exact: n = RoundTime/1ms, and each kernel's score is its reference
// over 1ms/n.
func TestMeasureWithInjectedClock(t *testing.T) {
	inst := instance(t, newHost(t), Workload)
	cfg := Config{Rounds: 5, RoundTime: 4 * time.Millisecond, Clock: stepClock(time.Millisecond)}
	r, err := Measure(context.Background(), inst, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, r)
	for k, kr := range r.Kernels {
		// The doubling stops at once (1ms >= RoundTime/4): n = 1*4ms/1ms.
		if kr.Iterations != 4 || kr.PerIter != 250*time.Microsecond || kr.Min != kr.Max {
			t.Errorf("kernel %s: %d iterations, %s per iteration (min %s, max %s); want 4, 250µs",
				kr.Name, kr.Iterations, kr.PerIter, kr.Min, kr.Max)
		}
		if want := int(math.Round(1000 * float64(kernels[k].ref) / float64(250*time.Microsecond))); kr.Score != want {
			t.Errorf("kernel %s: score %d, want %d", kr.Name, kr.Score, want)
		}
	}
}

// On a machine where every iteration takes 100µs, n doubles until a call
// takes a quarter of the round, and is then scaled to the round.
func TestCalibrationDoubles(t *testing.T) {
	inst := instance(t, newHost(t), Workload)
	c := &countingCaller{Caller: inst}
	cfg := Config{Rounds: 1, RoundTime: 4 * time.Millisecond, Clock: c.clock}
	r, err := Measure(context.Background(), c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, kr := range r.Kernels {
		// 100µs per iteration: doubling stops at n=16 (1.6ms >= 1ms),
		// the fastest of three is 1.6ms, and 16*4ms/1.6ms = 40.
		if kr.Iterations != 40 || kr.PerIter != 100*time.Microsecond {
			t.Errorf("kernel %s: %d iterations at %s, want 40 at 100µs", kr.Name, kr.Iterations, kr.PerIter)
		}
	}
}

// countingCaller makes a clock in which every iteration of a call costs
// 100µs: a machine that runs each kernel iteration in exactly 100µs.
type countingCaller struct {
	Caller
	now time.Duration
}

func (c *countingCaller) Call(ctx context.Context, name string, params ...uint64) ([]uint64, error) {
	if len(params) == 1 {
		c.now += time.Duration(params[0]) * 100 * time.Microsecond
	}
	return c.Caller.Call(ctx, name, params...)
}

func (c *countingCaller) clock() time.Duration { return c.now }
