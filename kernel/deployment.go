package kernel

// TaskType says how a task runs.
type TaskType string

// Task types.
const (
	// TypeService is a reactor kept resident, driven by messages and ticks.
	TypeService TaskType = "service"
	// TypeJob runs _start to completion and is retried on failure.
	TypeJob TaskType = "job"
)

// RestartPolicy says when a stopped task is started again.
type RestartPolicy string

// Restart policies.
const (
	RestartAlways    RestartPolicy = "always"
	RestartOnFailure RestartPolicy = "on-failure"
	RestartNever     RestartPolicy = "never"
)

// APIVersion and Kind of a deployment manifest.
const (
	APIVersion     = "canopy/v1"
	KindDeployment = "Deployment"
)

// Deployment is the manifest a user writes: what to run, where, and within
// which limits. See CONTRACT.md for the YAML form.
type Deployment struct {
	APIVersion string `json:"apiVersion" yaml:"apiVersion"`
	Kind       string `json:"kind" yaml:"kind"`
	Name       string `json:"name" yaml:"name"`
	// Module is a path relative to the manifest, or "sha256:HEX" of an
	// uploaded module.
	Module    string            `json:"module" yaml:"module"`
	Type      TaskType          `json:"type,omitempty" yaml:"type,omitempty"`
	Replicas  int               `json:"replicas,omitempty" yaml:"replicas,omitempty"`
	Every     bool              `json:"every,omitempty" yaml:"every,omitempty"`
	Selector  Selector          `json:"selector,omitempty" yaml:"selector,omitempty"`
	Requires  Requires          `json:"requires,omitempty" yaml:"requires,omitempty"`
	Near      *Near             `json:"near,omitempty" yaml:"near,omitempty"`
	Subscribe []Subscription    `json:"subscribe,omitempty" yaml:"subscribe,omitempty"`
	Publish   []string          `json:"publish,omitempty" yaml:"publish,omitempty"`
	Tick      Duration          `json:"tick,omitempty" yaml:"tick,omitempty"`
	Limits    Limits            `json:"limits,omitempty" yaml:"limits,omitempty"`
	Config    map[string]string `json:"config,omitempty" yaml:"config,omitempty"`
	Rollout   Rollout           `json:"rollout,omitempty" yaml:"rollout,omitempty"`
	Restart   RestartPolicy     `json:"restart,omitempty" yaml:"restart,omitempty"`
	Priority  int               `json:"priority,omitempty" yaml:"priority,omitempty"`
}

// Selector holds hard placement filters.
type Selector struct {
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Arch   []string          `json:"arch,omitempty" yaml:"arch,omitempty"`
}

// Requires holds what a node must have to run the task.
type Requires struct {
	Memory  Bytes        `json:"memory,omitempty" yaml:"memory,omitempty"`
	Score   int          `json:"score,omitempty" yaml:"score,omitempty"`
	Devices []DeviceKind `json:"devices,omitempty" yaml:"devices,omitempty"`
	Sensors []string     `json:"sensors,omitempty" yaml:"sensors,omitempty"`
}

// Near asks the scheduler to prefer nodes with low measured latency to a
// target: the nodes whose sensors publish Topic, a named Node, or the nodes
// carrying Label (k=v). Exactly one target is set.
type Near struct {
	Topic      string   `json:"topic,omitempty" yaml:"topic,omitempty"`
	Node       NodeName `json:"node,omitempty" yaml:"node,omitempty"`
	Label      string   `json:"label,omitempty" yaml:"label,omitempty"`
	MaxLatency Duration `json:"maxLatency,omitempty" yaml:"maxLatency,omitempty"`
}

// Limits bound what one task instance may use. Zero means the default
// (see DefaultLimits).
type Limits struct {
	Memory      Bytes    `json:"memory,omitempty" yaml:"memory,omitempty"`
	CallTimeout Duration `json:"callTimeout,omitempty" yaml:"callTimeout,omitempty"`
	KV          Bytes    `json:"kv,omitempty" yaml:"kv,omitempty"`
	// PublishRate is messages per second (sustained; bursts up to one
	// second's worth).
	PublishRate int `json:"publishRate,omitempty" yaml:"publishRate,omitempty"`
	// PublishSize is the largest payload one publish may carry.
	PublishSize Bytes `json:"publishSize,omitempty" yaml:"publishSize,omitempty"`
	// LogRate is log bytes per second (sustained; bursts up to one second's
	// worth); lines beyond it are dropped and counted.
	LogRate Bytes `json:"logRate,omitempty" yaml:"logRate,omitempty"`
}

// DefaultLimits are the limits a task gets where its manifest is silent.
var DefaultLimits = Limits{
	Memory:      16 * MiB,
	CallTimeout: Duration(100_000_000), // 100ms
	KV:          1 * MiB,
	PublishRate: 100,
	PublishSize: 256 * KiB,
	LogRate:     64 * KiB,
}

// WithDefaults returns l with each zero field set from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = d.CallTimeout
	}
	if l.KV == 0 {
		l.KV = d.KV
	}
	if l.PublishRate == 0 {
		l.PublishRate = d.PublishRate
	}
	if l.PublishSize == 0 {
		l.PublishSize = d.PublishSize
	}
	if l.LogRate == 0 {
		l.LogRate = d.LogRate
	}
	return l
}

// Rollout says how a new version replaces the old one.
type Rollout struct {
	MaxParallel  int      `json:"maxParallel,omitempty" yaml:"maxParallel,omitempty"`
	Canary       int      `json:"canary,omitempty" yaml:"canary,omitempty"`
	HealthyFor   Duration `json:"healthyFor,omitempty" yaml:"healthyFor,omitempty"`
	AutoRollback *bool    `json:"autoRollback,omitempty" yaml:"autoRollback,omitempty"`
}
