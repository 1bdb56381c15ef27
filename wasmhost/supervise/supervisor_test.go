package supervise

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testmodules.Cleanup()
	os.Exit(code)
}

type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Publish(_ context.Context, topic string, payload []byte) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, topic+" "+string(payload))
	r.mu.Unlock()
	return nil
}

func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == s {
			n++
		}
	}
	return n
}

func load(t *testing.T, name string) (*wasmhost.Host, *wasmhost.Module) {
	t.Helper()
	ctx := context.Background()
	h, err := wasmhost.New(ctx, wasmhost.Config{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	b, err := testmodules.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.Load(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	return h, m
}

// eventually polls cond for up to 10s (the supervisor runs on its own
// goroutine); it asserts no timing, only that the state is reached.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never reached: %s", what)
}

func half() float64 { return 0.5 } // jitter factor 1: delays are exact

func TestServiceRestartsAfterTrap(t *testing.T) {
	h, m := load(t, "guest")
	clock := newFakeClock()
	pub := &recorder{}
	s, err := Start(context.Background(), Config{
		Host: h, Module: m, Clock: clock, Rand: half,
		Task: wasmhost.TaskConfig{ID: "svc", Publish: []string{"echo/out"}, Publisher: pub},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.Deliver("echo", []byte("1"))
	eventually(t, "first echo", func() bool { return pub.count("echo/out 1") == 1 })
	s.Deliver("trap", nil)
	eventually(t, "backoff", func() bool { return s.Status().State == kernel.TaskBackoff })
	st := s.Status()
	if st.Restarts != 1 || st.LastError != "trap: unreachable" {
		t.Fatalf("status %+v", st)
	}
	// Messages wait in the queue during the backoff.
	s.Deliver("echo", []byte("2"))
	clock.Advance(100 * time.Millisecond)
	eventually(t, "echo after restart", func() bool { return pub.count("echo/out 2") == 1 })
	// The echo is published from inside the call; the usage after it
	// returns.
	eventually(t, "usage after restart", func() bool { return s.Status().Usage.Messages == 3 })
	if st := s.Status(); st.State != kernel.TaskRunning {
		t.Fatalf("status after restart %+v", st)
	}
	// A second failure soon after doubles the delay.
	s.Deliver("loop", nil) // stopped by the call timeout (100ms, real time)
	eventually(t, "second backoff", func() bool { return s.Status().Restarts == 2 })
	if st := s.Status(); st.LastError != "call timeout 100ms exceeded" {
		t.Fatalf("status %+v", st)
	}
	if got := s.Status().FailuresByCause; len(got) != 2 || got[CauseTrap] != 1 || got[wasmhost.LimitCallTimeout] != 1 {
		t.Fatalf("failures by cause %v, want one trap and one call timeout", got)
	}
	eventually(t, "second wait asked", func() bool { return slices.Contains(clock.Asked(), 200*time.Millisecond) })
	if got := clock.Asked(); !slices.Equal(got, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}) {
		t.Fatalf("backoff waits %v", got)
	}
}

func TestRestartNever(t *testing.T) {
	h, m := load(t, "guest")
	s, err := Start(context.Background(), Config{Host: h, Module: m, Restart: kernel.RestartNever,
		Task: wasmhost.TaskConfig{ID: "once"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Deliver("trap", nil)
	err = s.Wait()
	var te *wasmhost.TrapError
	if !errors.As(err, &te) {
		t.Fatalf("Wait = %v, want the trap", err)
	}
	if st := s.Status(); st.State != kernel.TaskFailed || st.Restarts != 0 || st.LastError != "trap: unreachable" {
		t.Fatalf("status %+v", st)
	}
	if s.Deliver("echo", nil) {
		t.Fatal("Deliver after the end accepted a message")
	}
}

func TestJobRetriedOnFailure(t *testing.T) {
	h, m := load(t, "job")
	clock := newFakeClock()
	s, err := Start(context.Background(), Config{Host: h, Module: m, Clock: clock, Rand: half,
		Task: wasmhost.TaskConfig{ID: "job", Type: kernel.TypeJob, Config: map[string]string{"mode": "exit3"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for n := 1; n <= 4; n++ {
		eventually(t, "backoff", func() bool { return len(clock.Asked()) == n })
		clock.Advance(time.Hour)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	if got := clock.Asked(); !slices.Equal(got[:4], want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	st := s.Status()
	if st.LastError != "exit code 3" || st.Restarts < 4 || len(st.Failures) < 4 || st.Failures[0].Error != "exit code 3" {
		t.Fatalf("status %+v", st)
	}
}

func TestJobSucceeds(t *testing.T) {
	h, m := load(t, "job")
	s, err := Start(context.Background(), Config{Host: h, Module: m,
		Task: wasmhost.TaskConfig{ID: "job-ok", Type: kernel.TypeJob, Config: map[string]string{"mode": "ok"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.State != kernel.TaskExited || st.LastError != "" {
		t.Fatalf("status %+v", st)
	}
}

func TestTicksQueueAndStop(t *testing.T) {
	h, m := load(t, "guest")
	clock := newFakeClock()
	pub := &recorder{}
	var mu sync.Mutex
	var states []kernel.TaskState
	s, err := Start(context.Background(), Config{
		Host: h, Module: m, Clock: clock, Tick: time.Second, QueueSize: 2,
		Task: wasmhost.TaskConfig{ID: "ticker", Publish: []string{"tick"}, Publisher: pub,
			Limits: kernel.Limits{CallTimeout: kernel.Duration(time.Minute)}},
		OnChange: func(st Status) { mu.Lock(); states = append(states, st.State); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "tick scheduled", func() bool { return len(clock.Asked()) == 1 })
	clock.Advance(time.Second)
	eventually(t, "tick", func() bool { return pub.count("tick ") == 1 })
	// The task is busy in a loop (call timeout 1 minute): the queue fills.
	if !s.Deliver("loop", nil) {
		t.Fatal("queue refused the first message")
	}
	eventually(t, "loop taken", func() bool { return len(s.queue) == 0 })
	accepted := 0
	for range 5 {
		if s.Deliver("echo", nil) {
			accepted++
		}
	}
	if accepted != 2 || s.Status().Usage.Dropped != 3 {
		t.Fatalf("accepted %d, dropped %d; want 2 and 3", accepted, s.Status().Usage.Dropped)
	}
	// Stop interrupts the loop and ends the supervisor.
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []kernel.TaskState{kernel.TaskStarting, kernel.TaskRunning, kernel.TaskStopped}
	if !slices.Equal(states, want) {
		t.Fatalf("states %v, want %v", states, want)
	}
}

func TestInvalidTaskIsNotRetried(t *testing.T) {
	h, m := load(t, "guest")
	s, err := Start(context.Background(), Config{Host: h, Module: m,
		Task: wasmhost.TaskConfig{ID: "big", Limits: kernel.Limits{Memory: 64 * kernel.KiB}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err == nil || !strings.Contains(err.Error(), "memory limit 64KiB exceeded") {
		t.Fatalf("Wait = %v", err)
	}
	if st := s.Status(); st.State != kernel.TaskFailed || st.Restarts != 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Restart: "sometimes", Tick: -1, Backoff: Backoff{Jitter: 2}}.Validate()
	for _, want := range []string{"host: nil", "module: nil", "id: empty", `restart: "sometimes"`, "tick: negative", "jitter"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second, Multiplier: 3, Jitter: 0.5}
	for _, c := range []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{0, 0.5, time.Second},
		{1, 0.5, 3 * time.Second},
		{2, 0.5, 9 * time.Second},
		{3, 0.5, 10 * time.Second}, // capped
		{50, 0.5, 10 * time.Second},
		{0, 0, 500 * time.Millisecond}, // -50%
		{0, 0.999999, 1499999 * time.Microsecond},
	} {
		got := b.Delay(c.attempt, c.r)
		if d := got - c.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("Delay(%d, %v) = %s, want %s", c.attempt, c.r, got, c.want)
		}
	}
}
