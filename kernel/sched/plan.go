package sched

import (
	"strconv"

	"github.com/canopy-fleet/canopy/kernel"
)

// Plan is what one decision asks the control plane to do for a deployment.
type Plan struct {
	Deployment string `json:"deployment"`
	Version    int    `json:"version"`
	// Demand is what each new replica reserves.
	Demand Demand `json:"demand"`
	// Place starts new replicas.
	Place []kernel.Placement `json:"place,omitempty"`
	// Move replaces a replica with a new one on another node: start To,
	// then stop Task.
	Move []Move `json:"move,omitempty"`
	// Stop ends tasks: surplus replicas, replicas on nodes that are gone,
	// and lower-priority tasks preempted to make room.
	Stop []Stop `json:"stop,omitempty"`
	// Kept is how many replicas stay where they are.
	Kept int `json:"kept"`
	// Unplaced is how many wanted replicas found no node; UnplacedReason
	// says why, naming the filters that rejected the most nodes.
	Unplaced       int    `json:"unplaced,omitempty"`
	UnplacedReason string `json:"unplacedReason,omitempty"`
	// DeferredMoves counts replicas that should move but wait for a later
	// step, because Config.MaxMovesPerStep was reached.
	DeferredMoves int `json:"deferredMoves,omitempty"`

	dep *kernel.Deployment // for Apply: the priority and manifest of new tasks
}

// Move replaces one replica with a new one elsewhere.
type Move struct {
	Task   kernel.TaskID    `json:"task"`
	From   kernel.NodeName  `json:"from"`
	To     kernel.Placement `json:"to"`
	Reason string           `json:"reason"`
}

// Stop ends one task.
type Stop struct {
	Task       kernel.TaskID   `json:"task"`
	Deployment string          `json:"deployment"`
	Node       kernel.NodeName `json:"node,omitempty"`
	Reason     string          `json:"reason"`
	// Preempted is true when the task stops to make room for a
	// higher-priority deployment.
	Preempted bool `json:"preempted,omitempty"`
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return len(p.Place) == 0 && len(p.Move) == 0 && len(p.Stop) == 0
}

// TaskIDFor names the task a plan starts for a deployment version on a
// node: "<deployment>-v<version>-<node>". One replica of a deployment runs
// per node, so the name is unique among live tasks.
func TaskIDFor(deployment string, version int, node kernel.NodeName) kernel.TaskID {
	b := make([]byte, 0, len(deployment)+len(node)+8)
	b = append(b, deployment...)
	b = append(b, "-v"...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, '-')
	b = append(b, node...)
	return kernel.TaskID(b)
}

func (c *Cluster) placement(q *query, node int32) kernel.Placement {
	name := c.nodes[node].Name
	return kernel.Placement{
		Task:       TaskIDFor(q.dep.Name, q.version, name),
		Deployment: q.dep.Name,
		Version:    q.version,
		Node:       name,
	}
}
