package probe

import (
	"context"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/canopy-fleet/canopy/kernel"
)

// liveSampler keeps the previous CPU times so each sample reports the CPU
// use since the last one.
type liveSampler struct {
	mu   sync.Mutex
	prev *cpu.TimesStat
}

// Live measures the live figures: CPU use since the previous call (0 on
// the first), load, free memory and disk, temperature and its limit,
// throttling and uptime, with the overrides applied.
func (p *Prober) Live(ctx context.Context) (kernel.LiveStats, error) {
	if err := ctx.Err(); err != nil {
		return kernel.LiveStats{}, err
	}
	gctx := p.gctx(ctx)
	l := kernel.LiveStats{MeasuredAt: p.cfg.Now()}
	if ts, err := cpu.TimesWithContext(gctx, false); err == nil && len(ts) == 1 {
		l.CPUPercent = p.live.cpuPercent(ts[0])
	}
	if a, err := load.AvgWithContext(gctx); err == nil {
		l.Load1 = a.Load1
	}
	if vm, err := mem.VirtualMemoryWithContext(gctx); err == nil {
		l.MemoryFree = kernel.Bytes(vm.Available)
	}
	if du, err := disk.UsageWithContext(gctx, p.cfg.DiskPath); err == nil {
		l.DiskFree = kernel.Bytes(du.Free)
	}
	if up, err := host.UptimeWithContext(gctx); err == nil {
		l.Uptime = time.Duration(up) * time.Second
	}
	th := readThermal(p.cfg.Root)
	l.TempC, l.TempLimitC = th.tempC, th.limitC
	l.Throttled = throttled(p.cfg.Root, th)
	applyLiveOverride(&l, p.cfg.Override.Live)
	return l, nil
}

func (s *liveSampler) cpuPercent(t cpu.TimesStat) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.prev
	s.prev = &t
	if prev == nil {
		return 0
	}
	busy := func(t *cpu.TimesStat) float64 {
		return t.User + t.System + t.Nice + t.Irq + t.Softirq + t.Steal
	}
	total := func(t *cpu.TimesStat) float64 { return busy(t) + t.Idle + t.Iowait }
	dt := total(&t) - total(prev)
	if dt <= 0 {
		return 0
	}
	pct := 100 * (busy(&t) - busy(prev)) / dt
	return min(100, max(0, pct))
}
