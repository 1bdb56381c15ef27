// Package rollout decides, step by step, how a deployment moves from one
// version to the next: canary first, then at most maxParallel replicas at a
// time, each gated on the replicas already replaced having run for
// healthyFor without restarts or handler errors, and a rollback to the
// previous version when the new one fails. Pause and resume are inputs.
//
// Next is a pure function of the deployment's rollout state, its tasks and
// the current time: no I/O, no goroutines, no clock. The control plane
// persists State, calls Next whenever a task of the deployment changes or
// Step.NextCheck arrives, and executes the Step it returns.
package rollout
