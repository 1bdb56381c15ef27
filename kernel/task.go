package kernel

import "time"

// TaskID names one instance of a deployment's version on one node.
type TaskID string

// TaskState is where a task instance is in its life.
type TaskState string

// Task states.
const (
	TaskPending  TaskState = "pending"  // placed, not yet started
	TaskStarting TaskState = "starting" // fetching, compiling, initialising
	TaskRunning  TaskState = "running"
	TaskBackoff  TaskState = "backoff" // failed, waiting to restart
	TaskExited   TaskState = "exited"  // a job that finished successfully
	TaskFailed   TaskState = "failed"  // stopped for good by its restart policy
	TaskStopped  TaskState = "stopped" // stopped on request
)

// Task is the control plane's record of one task instance.
type Task struct {
	ID         TaskID    `json:"id" yaml:"id"`
	Deployment string    `json:"deployment" yaml:"deployment"`
	Version    int       `json:"version" yaml:"version"`
	Node       NodeName  `json:"node" yaml:"node"`
	State      TaskState `json:"state" yaml:"state"`
	Restarts   int       `json:"restarts" yaml:"restarts"`
	LastError  string    `json:"lastError,omitempty" yaml:"lastError,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero" yaml:"startedAt,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt,omitzero" yaml:"updatedAt,omitempty"`
	Usage      TaskUsage `json:"usage" yaml:"usage"`
}

// TaskUsage is what a running task was measured to use; the scheduler learns
// from it.
type TaskUsage struct {
	CPUPerMessage time.Duration `json:"cpuPerMessage" yaml:"cpuPerMessage"` // mean time in handlers per message
	MemoryPeak    Bytes         `json:"memoryPeak" yaml:"memoryPeak"`       // linear memory high-water mark
	MessageRate   float64       `json:"messageRate" yaml:"messageRate"`     // messages per second handled
	Messages      uint64        `json:"messages" yaml:"messages"`
	HandlerErrors uint64        `json:"handlerErrors" yaml:"handlerErrors"`
	Dropped       uint64        `json:"dropped" yaml:"dropped"` // messages lost to a full queue
}

// Placement binds one task instance of a deployment version to a node.
type Placement struct {
	Task       TaskID   `json:"task" yaml:"task"`
	Deployment string   `json:"deployment" yaml:"deployment"`
	Version    int      `json:"version" yaml:"version"`
	Node       NodeName `json:"node" yaml:"node"`
}
