package score

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of Config.
const (
	DefaultRounds    = 21
	DefaultRoundTime = 2 * time.Millisecond
)

// MaxRoundTime bounds Config.RoundTime: the score must stay short.
const MaxRoundTime = 100 * time.Millisecond

// Config configures a measurement. The zero value is the standard score:
// the embedded workload, DefaultRounds rounds of DefaultRoundTime per
// kernel (about 0.15s in all on the reference machine).
type Config struct {
	// Rounds is how many timed calls each kernel gets; the median counts.
	// Zero means DefaultRounds.
	Rounds int
	// RoundTime is what one timed call of a kernel should take; the
	// iteration count is calibrated to it. Zero means DefaultRoundTime.
	RoundTime time.Duration
	// Module is the workload module; nil means Workload. It must export
	// score_workload_version (returning WorkloadVersion), score_int,
	// score_float and score_mem.
	Module []byte
	// Clock times the calls: a reading of a monotonic clock. Nil means
	// DefaultClock() (the thread's CPU time on Linux).
	Clock func() time.Duration
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Rounds < 0 {
		errs = append(errs, fmt.Errorf("rounds %d: must not be negative", c.Rounds))
	}
	if c.RoundTime < 0 || c.RoundTime > MaxRoundTime {
		errs = append(errs, fmt.Errorf("roundTime %s: must be between 0 and %s", c.RoundTime, MaxRoundTime))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Rounds == 0 {
		c.Rounds = DefaultRounds
	}
	if c.RoundTime == 0 {
		c.RoundTime = DefaultRoundTime
	}
	if c.Module == nil {
		c.Module = Workload
	}
	if c.Clock == nil {
		c.Clock = DefaultClock()
	}
	return c
}
