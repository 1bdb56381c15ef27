// Package kernel is Canopy's vocabulary: nodes and what they can do,
// deployments (the manifest users write), tasks and placements, and the small
// interfaces the kernel needs from the parts below it (runtime, transport,
// devices).
//
// This package does no I/O. The parts — wasmhost, mesh, devices — import it
// for its types only; subpackages of kernel hold the scheduler, the replicated
// state machine, the reconciler and the API server.
package kernel
