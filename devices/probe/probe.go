package probe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/canopy-fleet/canopy/kernel"
)

// Prober measures a node. Create one with New; Probe and Live may be called
// from any goroutine.
type Prober struct {
	cfg  Config
	live liveSampler
}

// New validates cfg and returns a Prober.
func New(cfg Config) (*Prober, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("probe config: %w", err)
	}
	cfg = cfg.withDefaults()
	cfg.Logger = cfg.Logger.With("component", "probe")
	return &Prober{cfg: cfg}, nil
}

// gctx points gopsutil at cfg.Root when it is not "/".
func (p *Prober) gctx(ctx context.Context) context.Context {
	if p.cfg.Root == "/" {
		return ctx
	}
	return context.WithValue(ctx, common.EnvKey, common.EnvMap{
		common.HostProcEnvKey: p.cfg.path("proc"),
		common.HostSysEnvKey:  p.cfg.path("sys"),
		common.HostDevEnvKey:  p.cfg.path("dev"),
		common.HostEtcEnvKey:  p.cfg.path("etc"),
		common.HostRunEnvKey:  p.cfg.path("run"),
		common.HostVarEnvKey:  p.cfg.path("var"),
	})
}

// Probe measures the static facts, the attached devices, one live sample
// and (with a Scorer) the benchmark score, then applies the overrides. A
// fact that cannot be read is left zero and logged; only a ctx error or a
// failing Scorer fails the probe.
func (p *Prober) Probe(ctx context.Context) (kernel.Capability, error) {
	log := p.cfg.Logger
	gctx := p.gctx(ctx)
	c := kernel.Capability{OS: runtime.GOOS, Arch: runtime.GOARCH}

	if hi, err := host.InfoWithContext(gctx); err == nil {
		c.Kernel, c.Hostname = hi.KernelVersion, hi.Hostname
	} else {
		log.Debug("host info", "err", err)
	}
	ci := parseCPUInfo(readTrim(p.cfg.path("proc/cpuinfo")))
	c.ArchVariant = archVariant(runtime.GOARCH, ci)
	c.CPUModel = ci.model
	if infos, err := cpu.InfoWithContext(gctx); err == nil && len(infos) > 0 {
		if c.CPUModel == "" {
			c.CPUModel = infos[0].ModelName
		}
		c.CPUMHz = infos[0].Mhz
	}
	if mhz := maxFreqMHz(p.cfg.Root); mhz > c.CPUMHz {
		c.CPUMHz = mhz
	}
	if n, err := cpu.CountsWithContext(gctx, true); err == nil {
		c.Cores = n
	} else {
		c.Cores = runtime.NumCPU()
	}
	if vm, err := mem.VirtualMemoryWithContext(gctx); err == nil {
		c.Memory = kernel.Bytes(vm.Total)
	} else {
		log.Debug("memory", "err", err)
	}
	if du, err := disk.UsageWithContext(gctx, p.cfg.DiskPath); err == nil {
		c.Disk = kernel.Bytes(du.Total)
	}
	c.Board = board(p.cfg.Root)
	c.Devices = attached(p.cfg.Root)
	live, err := p.Live(ctx)
	if err != nil {
		return kernel.Capability{}, err
	}
	c.Live = live
	if p.cfg.Scorer != nil && p.cfg.Override.Score == 0 {
		s, err := p.cfg.Scorer(ctx)
		if err != nil {
			return kernel.Capability{}, fmt.Errorf("probe score: %w", err)
		}
		c.Score = s
	}
	applyOverride(&c, p.cfg.Override)
	return c, ctx.Err()
}

// board names the hardware: the device tree model on ARM boards, else the
// DMI vendor and product.
func board(root string) string {
	if m := readTrim(filepath.Join(root, "proc/device-tree/model")); m != "" {
		return m
	}
	if m := readTrim(filepath.Join(root, "sys/firmware/devicetree/base/model")); m != "" {
		return m
	}
	vendor := readTrim(filepath.Join(root, "sys/class/dmi/id/sys_vendor"))
	product := readTrim(filepath.Join(root, "sys/class/dmi/id/product_name"))
	return strings.TrimSpace(vendor + " " + product)
}

// maxFreqMHz is cpufreq's hardware maximum of cpu0 (ARM boards report no
// MHz in /proc/cpuinfo).
func maxFreqMHz(root string) float64 {
	b, err := os.ReadFile(filepath.Join(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"))
	if err != nil {
		return 0
	}
	var khz float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &khz); err != nil {
		return 0
	}
	return khz / 1000
}

// applyOverride copies every non-zero field of o over c.
func applyOverride(c *kernel.Capability, o kernel.Capability) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.OS, o.OS)
	set(&c.Arch, o.Arch)
	set(&c.ArchVariant, o.ArchVariant)
	set(&c.CPUModel, o.CPUModel)
	set(&c.Board, o.Board)
	set(&c.Kernel, o.Kernel)
	set(&c.Hostname, o.Hostname)
	set(&c.Profile, o.Profile)
	if o.Cores != 0 {
		c.Cores = o.Cores
	}
	if o.CPUMHz != 0 {
		c.CPUMHz = o.CPUMHz
	}
	if o.Memory != 0 {
		c.Memory = o.Memory
	}
	if o.Disk != 0 {
		c.Disk = o.Disk
	}
	if o.Devices != nil {
		c.Devices = append([]kernel.Device(nil), o.Devices...)
	}
	if o.Sensors != nil {
		c.Sensors = append([]string(nil), o.Sensors...)
	}
	if o.Score != 0 {
		c.Score = o.Score
	}
	applyLiveOverride(&c.Live, o.Live)
}

func applyLiveOverride(l *kernel.LiveStats, o kernel.LiveStats) {
	if o.CPUPercent != 0 {
		l.CPUPercent = o.CPUPercent
	}
	if o.Load1 != 0 {
		l.Load1 = o.Load1
	}
	if o.MemoryFree != 0 {
		l.MemoryFree = o.MemoryFree
	}
	if o.DiskFree != 0 {
		l.DiskFree = o.DiskFree
	}
	if o.TempC != 0 {
		l.TempC = o.TempC
	}
	if o.TempLimitC != 0 {
		l.TempLimitC = o.TempLimitC
	}
	if o.Throttled {
		l.Throttled = true
	}
	if o.Uptime != 0 {
		l.Uptime = o.Uptime
	}
}
