package supervise

import (
	"errors"
	"fmt"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
)

func TestFailureCause(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"memory limit", &wasmhost.LimitError{Limit: wasmhost.LimitMemory, Value: "16MiB"}, "memory"},
		{"wrapped depth limit", fmt.Errorf("call: %w", &wasmhost.LimitError{Limit: wasmhost.LimitCallDepth}), "callDepth"},
		{"trap", &wasmhost.TrapError{Cause: "unreachable"}, CauseTrap},
		{"exit", &wasmhost.ExitError{Code: 3}, CauseExit},
		{"other", errors.New("instantiate: out of files"), CauseError},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := FailureCause(c.err); got != c.want {
				t.Fatalf("FailureCause(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
}

func TestStatusQueued(t *testing.T) {
	h, m := load(t, "guest")
	clock := newFakeClock()
	s, err := Start(t.Context(), Config{Host: h, Module: m, Clock: clock, Rand: half,
		Task: wasmhost.TaskConfig{ID: "q"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.Deliver("trap", nil)
	eventually(t, "backoff", func() bool { return s.Status().State == kernel.TaskBackoff })
	// During the backoff nothing takes messages from the queue.
	s.Deliver("echo", nil)
	s.Deliver("echo", nil)
	if got := s.Status().Queued; got != 2 {
		t.Fatalf("queued %d, want 2", got)
	}
}
