package sched

import (
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Snapshot is the scheduler's view of the fleet at one moment. The
// scheduler reads it and never changes it.
type Snapshot struct {
	// Nodes in any order; names must be unique.
	Nodes []kernel.Node `json:"nodes"`
	// Tasks already placed, in any state. Tasks that are exited, failed or
	// stopped hold no resources.
	Tasks []kernel.Task `json:"tasks"`
	// Deployments the tasks belong to: their priority decides preemption
	// and their manifest the declared demand of tasks not yet measured.
	Deployments []kernel.Deployment `json:"deployments"`
}

// Request asks for one placement decision.
type Request struct {
	// Deployment to place, validated and with defaults set
	// (kernel.ParseDeployment): Replicas 0 without Every means no replica.
	// With Every, one replica goes to each node that passes the filters;
	// nothing is preempted for it.
	Deployment kernel.Deployment `json:"deployment"`
	// Version new placements get.
	Version int `json:"version"`
	// Now is the time of the decision: nodes not seen for
	// Config.StaleAfter before it are not ready, and explanations carry
	// it. A zero Now ages no node.
	Now time.Time `json:"now"`
	// Policy overrides the cluster's policy for this deployment.
	Policy Policy `json:"policy,omitempty"`
	// Explain asks for the full per-node explanation (Decision.Explanation).
	// Without it a decision is cheaper; every node still gets a reason code.
	Explain bool `json:"explain,omitempty"`
}

// live reports whether a task in state s holds resources and counts as a
// replica.
func live(s kernel.TaskState) bool {
	switch s {
	case kernel.TaskPending, kernel.TaskStarting, kernel.TaskRunning, kernel.TaskBackoff, "":
		return true
	}
	return false
}

// inLiveStats reports whether a task in state s is already reflected in its
// node's live CPU figures.
func inLiveStats(s kernel.TaskState) bool {
	return s == kernel.TaskRunning || s == kernel.TaskBackoff
}
