package sched

import (
	"errors"
	"fmt"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Policy says how replicas share nodes with other tasks.
type Policy string

// Policies.
const (
	// PolicySpread prefers the emptiest nodes (default): failures and load
	// are spread across the fleet.
	PolicySpread Policy = "spread"
	// PolicyBinpack prefers the fullest nodes that still fit, leaving whole
	// nodes free for large tasks.
	PolicyBinpack Policy = "binpack"
)

// Weights are the relative importance of each score. A zero Weights means
// the defaults; set a weight negative to switch that score off.
type Weights struct {
	Latency   float64 `json:"latency"`
	Benchmark float64 `json:"benchmark"`
	Load      float64 `json:"load"`
	Thermal   float64 `json:"thermal"`
	Spread    float64 `json:"spread"`
	Pack      float64 `json:"pack"`
}

// DefaultWeights favour latency to the near target, then spread.
var DefaultWeights = Weights{Latency: 4, Benchmark: 1, Load: 1, Thermal: 1, Spread: 2, Pack: 1}

// Config tunes the scheduler. The zero value means every default.
type Config struct {
	// Policy is the cluster-wide default; a Request may override it.
	Policy Policy
	// Weights of the scores; zero means DefaultWeights.
	Weights Weights
	// SiteLabel is the node label whose value names a site for spreading
	// (default "site"). Gateways are the other spread domain.
	SiteLabel string
	// LatencyScale is the latency at which the latency score halves
	// (default 10ms).
	LatencyScale time.Duration
	// DefaultLinkLatency stands in for a tree link with no measurement in
	// either direction (default 5ms).
	DefaultLinkLatency time.Duration
	// StaleAfter is how long after LastSeen a ready node is treated as not
	// ready (default 30s). Nodes with a zero LastSeen are not aged.
	StaleAfter time.Duration
	// MaxMovesPerStep bounds disruptive moves (of running replicas whose
	// node still works) per decision (default 1; negative means none).
	MaxMovesPerStep int
	// RebalanceMargin is how much better (in total score, 0..1) another
	// node must be before a healthy replica is moved to it (default 0.25;
	// negative disables rebalancing).
	RebalanceMargin float64
	// MemoryReserve is memory on every node kept for the system and the
	// agent (default 64MiB).
	MemoryReserve kernel.Bytes
	// UsageHeadroom is added on top of measured usage when it replaces the
	// declared demand, as a fraction (default 0.25).
	UsageHeadroom float64
	// DefaultCPU is the CPU demand, in cores of the reference machine
	// (benchmark score 1000), of a task never measured (default 0.02).
	DefaultCPU float64
	// UnscoredBenchmark is the benchmark score assumed for the CPU capacity
	// of a node that has not run the benchmark (default 250).
	UnscoredBenchmark int
}

func (c Config) withDefaults() Config {
	if c.Policy == "" {
		c.Policy = PolicySpread
	}
	if c.Weights == (Weights{}) {
		c.Weights = DefaultWeights
	}
	if c.SiteLabel == "" {
		c.SiteLabel = "site"
	}
	if c.LatencyScale == 0 {
		c.LatencyScale = 10 * time.Millisecond
	}
	if c.DefaultLinkLatency == 0 {
		c.DefaultLinkLatency = 5 * time.Millisecond
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = 30 * time.Second
	}
	if c.MaxMovesPerStep == 0 {
		c.MaxMovesPerStep = 1
	}
	if c.RebalanceMargin == 0 {
		c.RebalanceMargin = 0.25
	}
	if c.MemoryReserve == 0 {
		c.MemoryReserve = 64 * kernel.MiB
	}
	if c.UsageHeadroom == 0 {
		c.UsageHeadroom = 0.25
	}
	if c.DefaultCPU == 0 {
		c.DefaultCPU = 0.02
	}
	if c.UnscoredBenchmark == 0 {
		c.UnscoredBenchmark = 250
	}
	return c
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	switch c.Policy {
	case "", PolicySpread, PolicyBinpack:
	default:
		errs = append(errs, fmt.Errorf("policy: must be spread or binpack, got %q", c.Policy))
	}
	if c.LatencyScale < 0 {
		errs = append(errs, errors.New("latencyScale: must not be negative"))
	}
	if c.DefaultLinkLatency < 0 {
		errs = append(errs, errors.New("defaultLinkLatency: must not be negative"))
	}
	if c.StaleAfter < 0 {
		errs = append(errs, errors.New("staleAfter: must not be negative"))
	}
	if c.MemoryReserve < 0 {
		errs = append(errs, errors.New("memoryReserve: must not be negative"))
	}
	if c.UsageHeadroom < 0 {
		errs = append(errs, errors.New("usageHeadroom: must not be negative"))
	}
	if c.DefaultCPU < 0 {
		errs = append(errs, errors.New("defaultCPU: must not be negative"))
	}
	if c.UnscoredBenchmark < 0 {
		errs = append(errs, errors.New("unscoredBenchmark: must not be negative"))
	}
	if c.RebalanceMargin > 1 {
		errs = append(errs, errors.New("rebalanceMargin: at most 1 (scores are 0..1)"))
	}
	return errors.Join(errs...)
}

func validPolicy(p Policy) bool { return p == PolicySpread || p == PolicyBinpack }
