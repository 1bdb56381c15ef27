// Package sched is Canopy's scheduler: a pure function from a snapshot of
// the fleet, a deployment and the current time to a plan (place, stop, move)
// and an explanation for every node.
//
// It does no I/O, starts no goroutines and reads no clock: time is an
// argument. A Cluster is built once per snapshot (NewCluster), kept current
// with Apply (accepted plans) and UpdateLive (heartbeats), and holds
// precomputed indexes — nodes sorted by name, label, arch, device and
// sensor-topic indexes (a trie), the tree with link latencies, resources
// left on every node — so a decision allocates nothing per node:
//
//   - A selective filter (labels, a device, a sensor, one arch) drives the
//     loop over its index's list instead of every node; latency to the near
//     target is then computed for those nodes only, by walking ancestors.
//   - Otherwise the selector's static set is used: the nodes that pass the
//     filters that never change within a cluster, ordered (a counting sort
//     into buckets) by an upper bound of their whole score. The scan stops
//     as soon as no node left could enter the top-k pool, usually after a
//     few hundred nodes of ten thousand.
//   - Selection is lazy-greedy top-k over a bounded pool, exact against
//     the best score outside it, never a sort of every node.
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
// No sampling is used: nodes are skipped only where an index or a bound
// proves they cannot pass or cannot win, so the plan is the one a scan of
// every node would give (tests check this against a plain scan and a plain
// greedy). Explanations (Request.Explain) do run every filter on every
// node.
package sched
