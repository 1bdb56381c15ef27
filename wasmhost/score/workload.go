package score

import (
	_ "embed"
	"time"
)

// Workload is the prebuilt workload module (wasm/score.wasm, made from
// src/score.c by go generate).
//
//go:embed wasm/score.wasm
var Workload []byte

// WorkloadVersion is the version of the workload the reference timings
// belong to; a module whose score_workload_version export returns another
// is refused.
const WorkloadVersion = 1

// Names of the workload's exports.
const (
	ExportVersion = "score_workload_version"
	ExportInt     = "score_int"
	ExportFloat   = "score_float"
	ExportMem     = "score_mem"
)

// workKernel is one kernel of the workload: an export that runs n
// iterations, and the reference machine's time per iteration.
type workKernel struct {
	name   string
	export string
	ref    time.Duration // per iteration, on the reference machine (reference.go)
}

var kernels = []workKernel{
	{name: "int", export: ExportInt, ref: refInt},
	{name: "float", export: ExportFloat, ref: refFloat},
	{name: "mem", export: ExportMem, ref: refMem},
}
