package supervise

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Backoff says how long to wait before each restart: Initial, then
// multiplied by Multiplier per consecutive failure up to Max, each delay
// spread by ±Jitter (a fraction). A run that stayed up for ResetAfter resets
// the sequence. Zero fields take the defaults named on each.
type Backoff struct {
	Initial    time.Duration // 100ms
	Max        time.Duration // 30s
	Multiplier float64       // 2
	Jitter     float64       // 0.2
	ResetAfter time.Duration // 10s
}

// Validate reports every problem at once.
func (b Backoff) Validate() error {
	var errs []error
	if b.Initial < 0 || b.Max < 0 || b.ResetAfter < 0 {
		errs = append(errs, errors.New("backoff: negative duration"))
	}
	if b.Multiplier != 0 && b.Multiplier < 1 {
		errs = append(errs, fmt.Errorf("backoff.multiplier: %v is below 1", b.Multiplier))
	}
	if b.Jitter < 0 || b.Jitter >= 1 {
		errs = append(errs, fmt.Errorf("backoff.jitter: %v is outside [0, 1)", b.Jitter))
	}
	if b.Max != 0 && b.Initial > b.Max {
		errs = append(errs, fmt.Errorf("backoff: initial %s exceeds max %s", b.Initial, b.Max))
	}
	return errors.Join(errs...)
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial == 0 {
		b.Initial = 100 * time.Millisecond
	}
	if b.Max == 0 {
		b.Max = 30 * time.Second
	}
	if b.Multiplier == 0 {
		b.Multiplier = 2
	}
	if b.Jitter == 0 {
		b.Jitter = 0.2
	}
	if b.ResetAfter == 0 {
		b.ResetAfter = 10 * time.Second
	}
	return b
}

// Delay is the wait before restart number attempt (0 for the first) given a
// uniform random number r in [0, 1). It is a pure function.
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	b = b.withDefaults()
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(attempt))
	d = min(d, float64(b.Max))
	d *= 1 + b.Jitter*(2*r-1)
	return time.Duration(max(d, 0))
}
