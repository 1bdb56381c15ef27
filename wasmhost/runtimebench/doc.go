// Package runtimebench measures the task runtime against raw wazero in the
// same run: the start of a cached compiled module, the delivery of a message
// to canopy_on_message, and the cost of the CPU budget on a tight loop. Each
// figure is a Pair of operations, the host's and raw wazero's, measured in
// interleaved batches and reported as medians, so machine noise hits both
// sides alike. `canopy bench runtime` and the Go benchmarks of package
// wasmhost both use it.
package runtimebench
