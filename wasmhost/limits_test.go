package wasmhost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// TestBadHandlers: each misbehaviour of a handler ends the instance with a
// clear error, and a second task on the same host carries on.
func TestBadHandlers(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	bystanderPub := &published{}
	bystander := start(t, h, "guest", TaskConfig{ID: "bystander", Publish: []string{"echo/out"}, Publisher: bystanderPub})
	limits := kernel.Limits{Memory: 1 * kernel.MiB, CallTimeout: kernel.Duration(50 * time.Millisecond), PublishRate: 100}
	cases := []struct {
		topic   string
		want    string
		check   func(error) bool
		timeout time.Duration // instead of 50ms
	}{
		{"trap", "trap: unreachable", isTrap, 0},
		{"loop", "call timeout 50ms exceeded", isLimit(LimitCallTimeout), 0},
		{"recurse", "trap: out of bounds memory access", isTrap, 0}, // C's shadow stack runs out first
		// Recursion without loops is stopped by the call depth limit, long
		// before wazero would grow its stack toward 400MB of host memory,
		// even with a generous timeout.
		{"deep", "call depth limit 50000 exceeded", isLimit(LimitCallDepth), 5 * time.Second},
		{"grow", "memory limit 1MiB exceeded", isLimit(LimitMemory), 0},
		{"malloc", "memory limit 1MiB exceeded", isLimit(LimitMemory), 0},
		{"flood", "publish rate limit 100/s exceeded", isLimit(LimitPublishRate), 0},
		{"exit", "exit code 3", func(err error) bool { var e *ExitError; return errors.As(err, &e) && e.Code == 3 }, 0},
	}
	for _, c := range cases {
		t.Run(c.topic, func(t *testing.T) {
			l := limits
			if c.timeout != 0 {
				l.CallTimeout = kernel.Duration(c.timeout)
			}
			i := start(t, h, "guest", TaskConfig{Limits: l, Publish: []string{"echo/#"}, Publisher: &published{}})
			err := i.OnMessage(ctx, c.topic, []byte("x"))
			if err == nil || err.Error() != c.want || !c.check(err) || !IsFatal(err) {
				t.Fatalf("OnMessage(%s) = %v (%T), want %q", c.topic, err, err, c.want)
			}
			// The instance stays failed.
			if err2 := i.OnMessage(ctx, "noop", nil); err2 == nil || err2.Error() != c.want {
				t.Fatalf("after failure: %v, want %q again", err2, c.want)
			}
			if i.Failed() == nil {
				t.Fatal("Failed() = nil after a fatal error")
			}
			// Others carry on.
			if err := bystander.OnMessage(ctx, "echo", []byte(c.topic)); err != nil {
				t.Fatalf("bystander: %v", err)
			}
		})
	}
	if n := len(bystanderPub.all()); n != len(cases) {
		t.Fatalf("bystander published %d, want %d", n, len(cases))
	}
}

func isTrap(err error) bool { var e *TrapError; return errors.As(err, &e) }
func isLimit(name string) func(error) bool {
	return func(err error) bool { var e *LimitError; return errors.As(err, &e) && e.Limit == name }
}

func TestInitialMemoryOverLimitRefused(t *testing.T) {
	h := newHost(t)
	m, err := h.Load(context.Background(), module(t, "guest"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Instantiate(context.Background(), m, TaskConfig{ID: "small", Limits: kernel.Limits{Memory: 64 * kernel.KiB}})
	if !errors.Is(err, ErrInvalidTask) || !isLimit(LimitMemory)(err) || !strings.HasSuffix(err.Error(), "memory limit 64KiB exceeded") {
		t.Fatalf("got %v", err)
	}
}

func TestPublishPoliteStopsAtRateLimit(t *testing.T) {
	h := newHost(t)
	pub := &published{}
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	i := start(t, h, "guest", TaskConfig{Limits: kernel.Limits{PublishRate: 10}, Publish: []string{"echo/out"}, Publisher: pub, Clock: clock})
	if err := i.OnMessage(context.Background(), "flood-polite", []byte("p")); err != nil {
		t.Fatal(err)
	}
	if n := len(pub.all()); n != 10 {
		t.Fatalf("published %d before -2, want the burst of 10", n)
	}
	now = now.Add(500 * time.Millisecond) // half a second refills 5
	if err := i.OnMessage(context.Background(), "flood-polite", []byte("p")); err != nil {
		t.Fatal(err)
	}
	if n := len(pub.all()); n != 15 {
		t.Fatalf("published %d in all, want 15", n)
	}
}

func TestLogFloodIsBounded(t *testing.T) {
	h := newHost(t)
	logs := &logLines{}
	i := start(t, h, "guest", TaskConfig{Limits: kernel.Limits{LogRate: 4 * kernel.KiB, CallTimeout: kernel.Duration(10 * time.Second)}, Logger: slogger(logs)})
	ctx := context.Background()
	if err := i.OnMessage(ctx, "print", []byte("world")); err != nil {
		t.Fatal(err)
	}
	if logs.count("hello world") != 1 {
		t.Fatalf("stdout line not logged: %q", logs.lines)
	}
	if err := i.OnMessage(ctx, "spam", nil); err != nil {
		t.Fatal(err)
	}
	logged := logs.count("spam")
	// 40000 lines were written (20000 on stdout, 20000 through log); at most
	// about 4KiB of them may pass.
	if logged == 0 || logged > 4096/4 {
		t.Fatalf("%d spam lines logged, want some but at most the 4KiB budget", logged)
	}
	if d := i.LogDropped(); d < 39000 {
		t.Fatalf("dropped %d, want nearly all 40000", d)
	}
	if err := i.OnMessage(ctx, "noop", nil); err != nil {
		t.Fatalf("after the flood: %v", err)
	}
}

// TestHostPanicContained: a panic below a host function (here in the
// Publisher) fails that instance only.
func TestHostPanicContained(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	boom := PublisherFunc(func(context.Context, string, []byte) error { panic("publisher exploded") })
	i := start(t, h, "guest", TaskConfig{ID: "boom", Publish: []string{"#"}, Publisher: boom})
	other := start(t, h, "guest", TaskConfig{ID: "calm", Publish: []string{"#"}, Publisher: &published{}})
	err := i.OnMessage(ctx, "echo", []byte("x"))
	if err == nil || err.Error() != "trap: publisher exploded" || !IsFatal(err) {
		t.Fatalf("got %v", err)
	}
	if err := other.OnMessage(ctx, "echo", []byte("x")); err != nil {
		t.Fatalf("other instance: %v", err)
	}
}

// TestSleepIsRealAndInterruptible: a task's sleep waits (wazero's default
// would return at once) but cannot hold a call past its timeout.
func TestSleepIsRealAndInterruptible(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	i := start(t, h, "guest", TaskConfig{Limits: kernel.Limits{CallTimeout: kernel.Duration(100 * time.Millisecond)}})
	t0 := time.Now()
	if err := i.OnMessage(ctx, "sleep", []byte("30")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 30*time.Millisecond {
		t.Fatalf("slept %s, asked for 30ms", d)
	}
	t0 = time.Now()
	err := i.OnMessage(ctx, "sleep", []byte("20000"))
	if err == nil || err.Error() != "call timeout 100ms exceeded" {
		t.Fatalf("long sleep: %v", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("a 20s sleep held the call %s: not interrupted", d)
	}
}

// TestInitLoop: an _initialize that never returns is stopped by its time
// limit (ten call timeouts, at least 1s) or by the caller's context.
func TestInitLoop(t *testing.T) {
	h := newHost(t)
	m, err := h.Load(context.Background(), module(t, "bad_initloop"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := TaskConfig{ID: "init", Limits: kernel.Limits{CallTimeout: kernel.Duration(10 * time.Millisecond)}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Instantiate(ctx, m, cfg); !errors.Is(err, ErrStopped) {
		t.Fatalf("cancelled init: %v", err)
	}
	_, err = h.Instantiate(context.Background(), m, cfg)
	if !isLimit(LimitCallTimeout)(err) || !strings.HasSuffix(err.Error(), "_initialize: call timeout 1s exceeded") {
		t.Fatalf("init loop: %v", err)
	}
}

// TestEmptyLogLinesAreBounded: every log line counts against the log rate,
// empty ones too (each is a whole log record: time, level, task id); a
// task cannot flood the log with lines too short to cost anything.
func TestEmptyLogLinesAreBounded(t *testing.T) {
	h := newHost(t)
	logs := &logLines{}
	now := time.Now()
	i := start(t, h, "guest", TaskConfig{Limits: kernel.Limits{LogRate: 4 * kernel.KiB}, Logger: slogger(logs),
		Clock: func() time.Time { return now }}) // no refill
	g := newGuest(t, i)
	p, _ := g.put(0, "")
	const n = 5000
	for range n {
		g.call("call_log", 1, p, 0)
	}
	logs.mu.Lock()
	logged := len(logs.lines)
	logs.mu.Unlock()
	if logged > 4096/logLineCost {
		t.Fatalf("%d of %d empty lines logged, want at most the 4KiB budget's worth", logged, n)
	}
	if d := i.LogDropped(); d == 0 {
		t.Fatal("no line dropped")
	}
}

// TestMessageLargerThanMemoryRefused: a message that cannot fit the task's
// memory limit is refused without calling the task (not fatal): any MQTT
// client could otherwise stop a task by sending it one big message.
func TestMessageLargerThanMemoryRefused(t *testing.T) {
	h := newHost(t)
	i := start(t, h, "guest", TaskConfig{Limits: kernel.Limits{Memory: kernel.MiB}})
	ctx := context.Background()
	err := i.OnMessage(ctx, "noop", make([]byte, 2*kernel.MiB))
	if err == nil || IsFatal(err) || !strings.Contains(err.Error(), "memory limit 1MiB") {
		t.Fatalf("2MiB message with a 1MiB memory limit: %v, want a non-fatal error naming the limit", err)
	}
	if err := i.OnMessage(ctx, "noop", []byte("small")); err != nil {
		t.Fatalf("after the big message: %v", err)
	}
}

// TestMessageOverHalfTheMemoryLimit: a message that fits the memory limit is
// delivered even when its size rounded up to a power of two would not (the
// region used to be rounded up regardless, so a 600KiB message asked a task
// limited to 1MiB for 1MiB and ended it).
func TestMessageOverHalfTheMemoryLimit(t *testing.T) {
	h := newHost(t)
	i := start(t, h, "guest", TaskConfig{Limits: kernel.Limits{Memory: kernel.MiB}})
	if err := i.OnMessage(context.Background(), "noop", make([]byte, 600*kernel.KiB)); err != nil {
		t.Fatalf("600KiB message with a 1MiB memory limit: %v", err)
	}
}
