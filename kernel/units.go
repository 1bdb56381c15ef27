package kernel

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Bytes is a size in bytes. In manifests and flags it is written with a
// binary (KiB, MiB, GiB) or decimal (KB, MB, GB) unit, or as a bare number
// of bytes.
type Bytes int64

// Common sizes.
const (
	KiB Bytes = 1 << 10
	MiB Bytes = 1 << 20
	GiB Bytes = 1 << 30
)

var byteUnits = []struct {
	suffix string
	mult   Bytes
}{
	// Longest suffixes first so "MiB" is not read as "B".
	{"KiB", KiB}, {"MiB", MiB}, {"GiB", GiB}, {"TiB", 1 << 40},
	{"Ki", KiB}, {"Mi", MiB}, {"Gi", GiB},
	{"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000},
	{"K", KiB}, {"M", MiB}, {"G", GiB},
	{"B", 1},
}

// ParseBytes reads a size such as "16MiB", "512KiB", "1GB" or "4096".
func ParseBytes(s string) (Bytes, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty size")
	}
	mult := Bytes(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("bad size %q: want a number with a unit such as 16MiB", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("bad size %q: negative", s)
	}
	v := f * float64(mult)
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("bad size %q: too large", s)
	}
	return Bytes(v), nil
}

// String prints the size with the largest binary unit that divides it.
func (b Bytes) String() string {
	switch {
	case b != 0 && b%GiB == 0:
		return fmt.Sprintf("%dGiB", b/GiB)
	case b != 0 && b%MiB == 0:
		return fmt.Sprintf("%dMiB", b/MiB)
	case b != 0 && b%KiB == 0:
		return fmt.Sprintf("%dKiB", b/KiB)
	default:
		return fmt.Sprintf("%dB", int64(b))
	}
}

// UnmarshalText lets Bytes be read from YAML, JSON and flags.
func (b *Bytes) UnmarshalText(text []byte) error {
	v, err := ParseBytes(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText prints the size in its canonical unit form.
func (b Bytes) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// Set implements flag.Value and pflag.Value.
func (b *Bytes) Set(s string) error { return b.UnmarshalText([]byte(s)) }

// Type implements pflag.Value.
func (b *Bytes) Type() string { return "size" }

// Duration is a time.Duration that reads and prints as "50ms", "10s".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints the duration like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalText reads a duration such as "50ms".
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(text)))
	if err != nil {
		return fmt.Errorf("bad duration %q: want a number with a unit such as 50ms", text)
	}
	if v < 0 {
		return fmt.Errorf("bad duration %q: negative", text)
	}
	*d = Duration(v)
	return nil
}

// MarshalText prints the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
