package score

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"
)

// Caller calls an exported function of an instantiated workload module
// with raw parameters; *wasmhost.Instance is one.
type Caller interface {
	Call(ctx context.Context, name string, params ...uint64) ([]uint64, error)
}

// Result is one measurement.
type Result struct {
	// Score is the geometric mean of the kernels' scores: 1000 on the
	// reference machine, 2000 on one twice as fast.
	Score   int
	Kernels []KernelResult
	// Elapsed is the time the measurement took (calibration and rounds;
	// not loading or instantiating the module).
	Elapsed time.Duration
}

// KernelResult is one kernel's part of a Result.
type KernelResult struct {
	Name       string        // "int", "float" or "mem"
	Iterations uint32        // per round, as calibrated
	PerIter    time.Duration // median over the rounds, per iteration
	Min, Max   time.Duration // fastest and slowest round, per iteration
	Score      int           // reference time / PerIter, times 1000
}

// maxIterations bounds calibration: no kernel iteration is that fast.
const maxIterations = 1 << 30

// Measure checks that c runs the workload, calibrates each kernel's
// iteration count to cfg.RoundTime, runs cfg.Rounds rounds (the kernels
// interleaved, so that a disturbance hits all of them alike rather than
// one) and normalises the medians against the reference machine.
func Measure(ctx context.Context, c Caller, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, fmt.Errorf("score config: %w", err)
	}
	cfg = cfg.withDefaults()
	t0 := time.Now()
	// Every call on this thread: the default clock is the thread's.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := checkWorkload(ctx, c); err != nil {
		return Result{}, err
	}
	iters := make([]uint32, len(kernels))
	for k, kn := range kernels {
		n, err := calibrate(ctx, c, kn, cfg)
		if err != nil {
			return Result{}, err
		}
		iters[k] = n
	}
	per := make([][]time.Duration, len(kernels))
	for range cfg.Rounds {
		for k, kn := range kernels {
			d, err := timeCall(ctx, c, kn, iters[k], cfg.Clock)
			if err != nil {
				return Result{}, err
			}
			per[k] = append(per[k], d/time.Duration(iters[k]))
		}
	}
	res := Result{Kernels: make([]KernelResult, len(kernels))}
	logSum := 0.0
	for k, kn := range kernels {
		s := slices.Clone(per[k])
		slices.Sort(s)
		med := max(s[len(s)/2], 1)
		ratio := float64(kn.ref) / float64(med)
		logSum += math.Log(ratio)
		res.Kernels[k] = KernelResult{
			Name: kn.name, Iterations: iters[k], PerIter: med, Min: s[0], Max: s[len(s)-1],
			Score: scoreOf(ratio),
		}
	}
	res.Score = scoreOf(math.Exp(logSum / float64(len(kernels))))
	res.Elapsed = time.Since(t0)
	return res, nil
}

// checkWorkload refuses a module that is not the workload the references
// belong to, naming what is missing. Each kernel is called once with n=0,
// which also warms the call path.
func checkWorkload(ctx context.Context, c Caller) error {
	out, err := c.Call(ctx, ExportVersion)
	if err != nil {
		return fmt.Errorf("not the score workload: %w", err)
	}
	if len(out) != 1 {
		return fmt.Errorf("not the score workload: %s returns %d values, want 1", ExportVersion, len(out))
	}
	if v := int32(out[0]); v != WorkloadVersion {
		return fmt.Errorf("score workload version %d: the reference timings are for version %d", v, WorkloadVersion)
	}
	for _, kn := range kernels {
		out, err := c.Call(ctx, kn.export, 0)
		if err != nil {
			return fmt.Errorf("not the score workload: %w", err)
		}
		if len(out) != 1 {
			return fmt.Errorf("not the score workload: %s returns %d values, want 1", kn.export, len(out))
		}
	}
	return nil
}

// calibrate returns the iteration count that makes one call of kn take
// about cfg.RoundTime. The first call (n=1) is a warm-up: it takes the
// page faults of the memory kernel's first touch. Then n doubles until a
// call takes a quarter of the round; the fastest of three calls of that n
// is scaled up (on a busy machine one call may be preempted: the fastest
// is the one that was not).
func calibrate(ctx context.Context, c Caller, kn workKernel, cfg Config) (uint32, error) {
	if _, err := timeCall(ctx, c, kn, 1, cfg.Clock); err != nil {
		return 0, err
	}
	n := uint64(1)
	for {
		d, err := timeCall(ctx, c, kn, uint32(n), cfg.Clock)
		if err != nil {
			return 0, err
		}
		if d >= cfg.RoundTime/4 || n >= maxIterations {
			for range 2 {
				e, err := timeCall(ctx, c, kn, uint32(n), cfg.Clock)
				if err != nil {
					return 0, err
				}
				d = min(d, e)
			}
			scaled := float64(n) * float64(cfg.RoundTime) / float64(max(d, 1))
			return uint32(min(max(scaled, 1), maxIterations)), nil
		}
		n *= 2
	}
}

// timeCall runs n iterations of kn and returns how long the call took.
func timeCall(ctx context.Context, c Caller, kn workKernel, n uint32, now func() time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("score: %w", err)
	}
	t0 := now()
	if _, err := c.Call(ctx, kn.export, uint64(n)); err != nil {
		return 0, fmt.Errorf("score kernel %s (%d iterations): %w", kn.name, n, err)
	}
	return now() - t0, nil
}

// scoreOf is a speed ratio to the reference as a score (times 1000), at
// least 1: an engine a thousand times slower than the reference on a
// kernel (the interpreter on the float kernel under load) still ran it,
// and 0 would read as no result.
func scoreOf(ratio float64) int { return max(1, int(math.Round(1000*ratio))) }
