// Package sched is Canopy's scheduler: a pure function from a snapshot of
// the fleet, a deployment and the current time to a plan (place, stop, move)
// and an explanation for every node.
//
// It does no I/O, starts no goroutines and reads no clock: time is an
// argument. A Cluster is built once per snapshot (NewCluster) and holds
// precomputed indexes — nodes sorted by name, label and sensor-topic
// indexes, the tree with path latencies, resources left on every node — so
// that one decision is a single pass over compact per-node arrays followed
// by a top-k selection, with no per-node allocation.
//
// A decision runs in two stages, as in nomad's scheduler:
//
//   - Filters reject nodes that cannot run the task at all: health, selector
//     labels and arch, attached devices and sensors, minimum benchmark
//     score, the near target's maximum latency, and memory and CPU left
//     after what is already placed. Every rejection names its filter.
//   - Scores rank the nodes left, each in 0..1 with a weight: measured
//     latency to the near target (path latency through the tree where no
//     direct measurement exists), benchmark score, live load, temperature
//     headroom, spread across gateways and sites, and bin-packing or
//     spreading by policy.
//
// Demand is adaptive: once replicas of a deployment have run, what they were
// measured to use (memory high-water mark, CPU per message times message
// rate, normalised by the benchmark score of the node that measured it)
// replaces what the manifest declares.
//
// Placements are stable: a replica on a node that still passes every filter
// is kept; it is moved only when its node fails a filter or when another
// node scores better by Config.RebalanceMargin, and at most
// Config.MaxMovesPerStep disruptive moves happen per decision. Replicas on
// nodes that are down are replaced without limit: they are not running.
//
// When a deployment has nowhere to go and its priority is above others', the
// scheduler preempts lower-priority tasks, choosing the node whose victims
// are the least important (lowest highest-priority) and, among those, the
// fewest.
//
// No sampling is used: every node is filtered and scored on every decision,
// so the guarantees (every hard filter holds, no node over capacity, an
// explanation for every node) hold for every node.
package sched
