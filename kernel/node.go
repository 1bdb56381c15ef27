package kernel

import "time"

// NodeName names a node uniquely in the cluster.
type NodeName string

// Role is a node's place in the tree.
type Role string

// Roles.
const (
	RoleController Role = "controller"
	RoleGateway    Role = "gateway"
	RoleLeaf       Role = "leaf"
)

// Health is what the control plane believes about a node.
type Health string

// Health states.
const (
	HealthReady   Health = "ready"   // heartbeating and able to run tasks
	HealthDown    Health = "down"    // missed heartbeats; its tasks are placed elsewhere
	HealthDrained Health = "drained" // up, but takes no new tasks
)

// DeviceKind is a class of attached hardware a task may require.
type DeviceKind string

// Device kinds found by the capability probe.
const (
	DeviceGPIO   DeviceKind = "gpio"
	DeviceI2C    DeviceKind = "i2c"
	DeviceSPI    DeviceKind = "spi"
	DeviceSerial DeviceKind = "serial"
	DeviceCamera DeviceKind = "camera"
	DeviceGPU    DeviceKind = "gpu"
	DeviceNPU    DeviceKind = "npu"
)

// Device is one piece of attached hardware.
type Device struct {
	Kind  DeviceKind `json:"kind" yaml:"kind"`
	Path  string     `json:"path,omitempty" yaml:"path,omitempty"`   // e.g. /dev/gpiochip0
	Model string     `json:"model,omitempty" yaml:"model,omitempty"` // e.g. "Coral Edge TPU"
}

// Capability is what a node measured about itself (or what its simulated
// device profile says). Static facts change rarely; the Live part is
// refreshed periodically.
type Capability struct {
	OS          string   `json:"os" yaml:"os"`
	Arch        string   `json:"arch" yaml:"arch"`                                   // GOARCH: arm64, amd64, arm, ...
	ArchVariant string   `json:"archVariant,omitempty" yaml:"archVariant,omitempty"` // armv6, armv7, arm64, ...
	CPUModel    string   `json:"cpuModel,omitempty" yaml:"cpuModel,omitempty"`
	Cores       int      `json:"cores" yaml:"cores"`
	CPUMHz      float64  `json:"cpuMHz,omitempty" yaml:"cpuMHz,omitempty"`
	Memory      Bytes    `json:"memory" yaml:"memory"` // total
	Disk        Bytes    `json:"disk,omitempty" yaml:"disk,omitempty"`
	Board       string   `json:"board,omitempty" yaml:"board,omitempty"` // e.g. "Raspberry Pi 4 Model B Rev 1.4"
	Kernel      string   `json:"kernel,omitempty" yaml:"kernel,omitempty"`
	Hostname    string   `json:"hostname,omitempty" yaml:"hostname,omitempty"`
	Profile     string   `json:"profile,omitempty" yaml:"profile,omitempty"` // device profile name when simulated
	Devices     []Device `json:"devices,omitempty" yaml:"devices,omitempty"`
	// Sensors are the MQTT topics this node's attached sensors publish on.
	Sensors []string `json:"sensors,omitempty" yaml:"sensors,omitempty"`
	// Score is the wasm benchmark score: 1000 is the reference machine.
	Score int `json:"score" yaml:"score"`
	// Live figures, refreshed periodically.
	Live LiveStats `json:"live" yaml:"live"`
}

// LiveStats are the figures a node refreshes periodically.
type LiveStats struct {
	CPUPercent float64       `json:"cpuPercent" yaml:"cpuPercent"` // 0..100 over all cores
	Load1      float64       `json:"load1" yaml:"load1"`
	MemoryFree Bytes         `json:"memoryFree" yaml:"memoryFree"`
	DiskFree   Bytes         `json:"diskFree,omitempty" yaml:"diskFree,omitempty"`
	TempC      float64       `json:"tempC,omitempty" yaml:"tempC,omitempty"`
	TempLimitC float64       `json:"tempLimitC,omitempty" yaml:"tempLimitC,omitempty"` // throttling point
	Throttled  bool          `json:"throttled,omitempty" yaml:"throttled,omitempty"`
	Uptime     time.Duration `json:"uptime,omitempty" yaml:"uptime,omitempty"`
	MeasuredAt time.Time     `json:"measuredAt" yaml:"measuredAt"`
}

// HasDevice reports whether the node has an attached device of kind k.
func (c *Capability) HasDevice(k DeviceKind) bool {
	for _, d := range c.Devices {
		if d.Kind == k {
			return true
		}
	}
	return false
}

// Node is the control plane's record of one device.
type Node struct {
	Name       NodeName          `json:"name" yaml:"name"`
	Role       Role              `json:"role" yaml:"role"`
	Parent     NodeName          `json:"parent,omitempty" yaml:"parent,omitempty"` // its gateway or controller
	Labels     map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Capability Capability        `json:"capability" yaml:"capability"`
	Health     Health            `json:"health" yaml:"health"`
	LastSeen   time.Time         `json:"lastSeen" yaml:"lastSeen"`
	// Latency holds measured round-trip times to other nodes, by name.
	Latency map[NodeName]time.Duration `json:"latency,omitempty" yaml:"latency,omitempty"`
}
