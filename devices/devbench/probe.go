package devbench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/canopy-fleet/canopy/devices/probe"
)

// ProbeResult is the cost of probing this host.
type ProbeResult struct {
	Full        time.Duration // median wall time of a full Probe
	RefreshCPU  time.Duration // CPU time (user+sys) of one live refresh
	CorePercent float64       // RefreshCPU per DefaultInterval, in % of one core
}

// Probe measures n full probes and m live refreshes on the real host.
func Probe(ctx context.Context, n, m int) (ProbeResult, error) {
	p, err := probe.New(probe.Config{})
	if err != nil {
		return ProbeResult{}, err
	}
	var walls []time.Duration
	for range n {
		start := time.Now()
		if _, err := p.Probe(ctx); err != nil {
			return ProbeResult{}, err
		}
		walls = append(walls, time.Since(start))
	}
	slices.Sort(walls)
	before := cpuTime()
	for range m {
		if _, err := p.Live(ctx); err != nil {
			return ProbeResult{}, err
		}
	}
	per := (cpuTime() - before) / time.Duration(m)
	return ProbeResult{
		Full:        walls[len(walls)/2],
		RefreshCPU:  per,
		CorePercent: 100 * per.Seconds() / probe.DefaultInterval.Seconds(),
	}, nil
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU reads another process's user+system CPU time from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// The command name may hold spaces; fields start after its ")".
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
