package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// DefaultInterval is how often a Monitor refreshes live figures.
const DefaultInterval = 5 * time.Second

// Scorer runs the wasm benchmark and returns the normalised score (1000 on
// the reference machine). It is called once per Probe; it should finish
// well under a second.
type Scorer func(ctx context.Context) (int, error)

// Config configures probing. The zero value probes the real host.
type Config struct {
	// Root is where /proc, /sys and /dev are looked up; empty means "/".
	Root string
	// DiskPath is the filesystem whose size and free space are reported;
	// empty means Root.
	DiskPath string
	// Override replaces probed values: every non-zero field (and a non-nil
	// Devices or Sensors) wins over what was measured, including in Live.
	Override kernel.Capability
	// Scorer computes Capability.Score; nil leaves it to Override (or 0).
	Scorer Scorer
	// Interval is the Monitor's refresh period; zero means DefaultInterval.
	Interval time.Duration
	// Logger receives the probe's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Root != "" && !filepath.IsAbs(c.Root) {
		errs = append(errs, fmt.Errorf("root %q: must be absolute", c.Root))
	}
	if c.DiskPath != "" && !filepath.IsAbs(c.DiskPath) {
		errs = append(errs, fmt.Errorf("diskPath %q: must be absolute", c.DiskPath))
	}
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("interval %s: must not be negative", c.Interval))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Root == "" {
		c.Root = "/"
	}
	if c.DiskPath == "" {
		c.DiskPath = c.Root
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) path(p string) string { return filepath.Join(c.Root, p) }
