package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultMinFreeDisk  = 64 << 20
	DefaultDedupeWindow = time.Hour
	DefaultMaxBatch     = 4096
	DefaultGCInterval   = 5 * time.Minute
)

// Config configures an Outbox. Zero fields take the defaults above.
type Config struct {
	// Dir is the badger directory; required.
	Dir string
	// MaxBytes bounds the pending messages (id + destination + payload).
	MaxBytes int64
	// MinFreeDisk is the free space below which Append fails with
	// ErrDiskFull; negative disables the check.
	MinFreeDisk int64
	// DedupeWindow is how long an acknowledged id is remembered so that
	// appending it again is a no-op.
	DedupeWindow time.Duration
	// MaxBatch bounds the messages in one group commit.
	MaxBatch int
	// GCInterval is how often badger's value log is garbage-collected
	// (payloads over 1 MiB live there; acknowledged ones leave garbage).
	GCInterval time.Duration
	// Logger receives the outbox's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem in the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("dir: required"))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("maxBytes %d: must not be negative", c.MaxBytes))
	}
	if c.DedupeWindow < 0 {
		errs = append(errs, fmt.Errorf("dedupeWindow %s: must not be negative", c.DedupeWindow))
	}
	if c.GCInterval < 0 {
		errs = append(errs, fmt.Errorf("gcInterval %s: must not be negative", c.GCInterval))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("maxBatch %d: must not be negative", c.MaxBatch))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MinFreeDisk == 0 {
		c.MinFreeDisk = DefaultMinFreeDisk
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = DefaultDedupeWindow
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.GCInterval == 0 {
		c.GCInterval = DefaultGCInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
