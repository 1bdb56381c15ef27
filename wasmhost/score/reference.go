package score

import "time"

// The reference machine scores 1000: its time per iteration of each kernel,
// through wasmhost (wazero 1.12's compiler, with the CPU-budget
// instrumentation), timed by the thread's CPU clock.
//
// Machine: the Canopy build machine, a 2-vCPU KVM guest reporting
// "Intel(R) Xeon(R) Processor" (L2 4 MiB per core, L3 260 MiB), Linux,
// Go 1.26, amd64. Measured on 2026-11-25 with `canopy bench score` (10 runs
// of the default Config, each kernel's median over its rounds, then the
// median over the runs), three times; these are the medians of the three.
// The machine was shared with other builds (load average about 7 on its
// 2 cores): the thread CPU clock does not count preemption, but cache and
// memory contention remain, so an idle machine of this kind may score a
// few percent above 1000.
//
// The timings belong to WorkloadVersion 1; change the workload and measure
// them again.
const (
	refInt   = 21_430 * time.Nanosecond
	refFloat = 3_770 * time.Nanosecond
	refMem   = 80_420 * time.Nanosecond
)
