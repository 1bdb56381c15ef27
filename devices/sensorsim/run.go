package sensorsim

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Config says how many sensors publish how fast, and for how long.
type Config struct {
	// Sensors is the number of simulated sensors; required.
	Sensors int
	// Rate is the total messages per second over all sensors; required.
	Rate float64
	// Count stops after this many messages; zero means no count bound.
	Count int
	// Duration stops after this long; zero means no time bound. Run
	// requires Count or Duration (or a ctx with a deadline), so a
	// simulator is always bounded.
	Duration time.Duration
	// Prefix is the topic prefix; empty means "sensors".
	Prefix string
	// Seed makes the streams reproducible.
	Seed uint64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Sensors <= 0 {
		errs = append(errs, fmt.Errorf("sensors %d: must be positive", c.Sensors))
	}
	if !(c.Rate > 0) {
		errs = append(errs, fmt.Errorf("rate %v: must be positive", c.Rate))
	}
	if c.Count < 0 || c.Duration < 0 {
		errs = append(errs, errors.New("count and duration must not be negative"))
	}
	return errors.Join(errs...)
}

// Publish sends one reading; the simulator stops on its first error.
type Publish func(ctx context.Context, topic string, payload []byte) error

// Stats are what a run did.
type Stats struct {
	Sent    int
	Elapsed time.Duration
}

// Run publishes readings at cfg.Rate until Count, Duration or ctx ends it.
// Pacing is by 1 ms ticks: each tick sends what the rate owes so far, so the
// long-run rate is exact even when single sends are slow.
func Run(ctx context.Context, cfg Config, pub Publish) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, fmt.Errorf("sensorsim: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok && cfg.Count == 0 && cfg.Duration == 0 {
		return Stats{}, errors.New("sensorsim: unbounded run: set count, duration or a ctx deadline")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "sensors"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	g := NewGenerator(cfg.Sensors, cfg.Seed)
	start := cfg.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var st Stats
	buf := make([]byte, 0, 256)
	for {
		owed := int(cfg.Now().Sub(start).Seconds()*cfg.Rate) + 1 - st.Sent
		for ; owed > 0; owed-- {
			if cfg.Count > 0 && st.Sent >= cfg.Count {
				st.Elapsed = cfg.Now().Sub(start)
				return st, nil
			}
			r := g.Next(cfg.Now())
			buf = r.AppendJSON(buf[:0])
			// The payload is copied: publishers may keep it.
			if err := pub(ctx, r.Topic(cfg.Prefix), append([]byte(nil), buf...)); err != nil {
				st.Elapsed = cfg.Now().Sub(start)
				if ctx.Err() != nil {
					return st, nil
				}
				return st, fmt.Errorf("sensorsim publish: %w", err)
			}
			st.Sent++
		}
		select {
		case <-ctx.Done():
			st.Elapsed = cfg.Now().Sub(start)
			return st, nil
		case <-tick.C:
		}
	}
}
