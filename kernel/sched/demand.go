package sched

import (
	"github.com/canopy-fleet/canopy/kernel"
)

// Demand is what one instance of a deployment is expected to use on a node.
type Demand struct {
	// Memory reserved on the node.
	Memory kernel.Bytes `json:"memory"`
	// CPU in cores of the reference machine (benchmark score 1000); a node
	// with score s offers cores*s/1000 of them.
	CPU float64 `json:"cpu"`
	// Learned is true when the figures come from measured replicas rather
	// than the manifest.
	Learned bool `json:"learned"`
	// Samples is how many measured replicas the figures come from.
	Samples int `json:"samples,omitempty"`
}

// usageSample is one measured replica and the benchmark score of the node
// that measured it.
type usageSample struct {
	usage kernel.TaskUsage
	score int
}

// measured reports whether a usage carries any measurement.
func measured(u kernel.TaskUsage) bool {
	return u.MemoryPeak > 0 || u.Messages > 0
}

// demandFor is the demand of one instance of d: what the manifest declares
// (its memory limit, or the default), replaced by what replicas were
// measured to use, plus headroom, once there are measurements. Measured
// memory never exceeds the limit: the sandbox enforces it.
func demandFor(d *kernel.Deployment, samples []usageSample, cfg *Config) Demand {
	limit := d.Limits.WithDefaults().Memory
	out := Demand{Memory: limit, CPU: cfg.DefaultCPU}
	if len(samples) == 0 {
		return out
	}
	var peak kernel.Bytes
	var cpu float64
	for _, s := range samples {
		peak = max(peak, s.usage.MemoryPeak)
		score := s.score
		if score <= 0 {
			score = cfg.UnscoredBenchmark
		}
		// Cores busy on the measuring node, converted to reference cores.
		c := s.usage.CPUPerMessage.Seconds() * s.usage.MessageRate * float64(score) / 1000
		cpu = max(cpu, c)
	}
	h := 1 + cfg.UsageHeadroom
	mem := kernel.Bytes(float64(peak) * h)
	mem = max(mem, 64*kernel.KiB) // one wasm page is the least a module holds
	out.Memory = min(limit, mem)
	out.CPU = max(cpu*h, cfg.DefaultCPU/10)
	out.Learned = true
	out.Samples = len(samples)
	return out
}
