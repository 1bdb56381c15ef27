package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mosquitto"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

// writeModule writes a wasmhost test module to a temp file.
func writeModule(t *testing.T, name string) string {
	t.Helper()
	b, err := testmodules.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name+".wasm")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startBroker starts an embedded broker on a free loopback port.
func startBroker(t *testing.T) string {
	t.Helper()
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return "tcp://" + b.Addr()
}

// startMosquitto starts Debian's mosquitto; under CI=true it must exist.
func startMosquitto(t *testing.T) string {
	t.Helper()
	if !mosquitto.Installed("") {
		if os.Getenv("CI") == "true" {
			t.Fatal(mosquitto.ErrNotInstalled)
		}
		t.Skip(mosquitto.ErrNotInstalled)
	}
	p, err := mosquitto.Start(context.Background(), mosquitto.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p.URL()
}

// canopyRun runs the CLI in-process and returns its error, stdout and stderr.
func canopyRun(ctx context.Context, args ...string) (error, string, string) {
	var out, errb syncBuffer
	root := newRootCmd(&out, &errb)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return err, out.String(), errb.String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunEchoOverMQTT: a message published by an ordinary MQTT client reaches
// the task, and what the task publishes reaches an ordinary MQTT subscriber,
// on the embedded broker and on mosquitto.
func TestRunEchoOverMQTT(t *testing.T) {
	for _, b := range []struct {
		name  string
		start func(*testing.T) string
	}{{"embedded", startBroker}, {"mosquitto", startMosquitto}} {
		t.Run(b.name, func(t *testing.T) {
			url := b.start(t)
			mod := writeModule(t, "guest")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			sub, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			got := make(chan string, 16)
			if err := sub.Subscribe(ctx, "echo/out", 1, func(_ string, p []byte) { got <- string(p) }); err != nil {
				t.Fatal(err)
			}

			runCtx, stopRun := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				err, _, _ := canopyRun(runCtx, "run", mod, "--mqtt", url, "--subscribe", "echo", "--publish", "echo/out", "--cache", "")
				done <- err
			}()
			// Publish until the task has subscribed and answers.
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for answered := false; !answered; {
				select {
				case p := <-got:
					if p != "ping" {
						t.Fatalf("task published %q, want ping", p)
					}
					answered = true
				case <-tick.C:
					if err := sub.Publish(ctx, "echo", []byte("ping"), 1); err != nil {
						t.Fatal(err)
					}
				case err := <-done:
					t.Fatalf("canopy run ended early: %v", err)
				case <-ctx.Done():
					t.Fatal("no echo from the task")
				}
			}
			stopRun()
			if err := <-done; err != nil {
				t.Fatalf("canopy run after Ctrl-C: %v", err)
			}
		})
	}
}

// TestRunLimits: a task stopped by a limit makes canopy run fail (exit 1)
// naming the limit.
func TestRunLimits(t *testing.T) {
	url := startBroker(t)
	mod := writeModule(t, "guest")
	cases := []struct {
		topic string
		args  []string
		want  string
	}{
		{"loop", []string{"--call-timeout", "50ms"}, "call timeout 50ms exceeded"},
		{"grow", []string{"--memory", "4MiB"}, "memory limit 4MiB exceeded"},
		{"trap", nil, "trap: unreachable"},
		{"deep", nil, "call depth limit 50000 exceeded"},
		{"flood", []string{"--publish", "echo/out", "--publish-rate", "100"}, "publish rate limit 100/s exceeded"},
	}
	for _, c := range cases {
		t.Run(c.topic, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pub, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			done := make(chan error, 1)
			go func() {
				args := append([]string{"run", mod, "--mqtt", url, "--subscribe", c.topic, "--cache", ""}, c.args...)
				err, _, _ := canopyRun(ctx, args...)
				done <- err
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case err := <-done:
					if err == nil || !strings.Contains(err.Error(), c.want) {
						t.Fatalf("got %v, want an error naming %q", err, c.want)
					}
					if code := exitCodeQuiet(err); code != 1 {
						t.Fatalf("exit code %d, want 1", code)
					}
					return
				case <-tick.C:
					pub.Publish(ctx, c.topic, []byte("x"), 0)
				case <-ctx.Done():
					t.Fatal("the task was not stopped")
				}
			}
		})
	}
}

func TestRunJob(t *testing.T) {
	url := startBroker(t)
	mod := writeModule(t, "job")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err, _, _ := canopyRun(ctx, "run", mod, "--mqtt", url, "--config", "mode=ok", "--cache", ""); err != nil {
		t.Fatalf("job ok: %v", err)
	}
	err, _, _ := canopyRun(ctx, "run", mod, "--mqtt", url, "--config", "mode=loop", "--call-timeout", "30ms", "--cache", "")
	if err == nil || !strings.Contains(err.Error(), "call timeout 30ms exceeded") {
		t.Fatalf("looping job: %v", err)
	}
}

func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.wasm")
	os.WriteFile(garbage, []byte("\x00asm\x01\x00\x00\x00\x01\xff"), 0o644)
	mod := writeModule(t, "guest")
	job := writeModule(t, "job")
	url := startBroker(t)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no module", []string{"run"}, 2, "MODULE.wasm"},
		{"missing file", []string{"run", filepath.Join(dir, "nope.wasm")}, 1, "no such file"},
		{"truncated wasm", []string{"run", garbage}, 1, "load"},
		{"bad filter", []string{"run", mod, "--subscribe", "a/#/b"}, 2, "--subscribe[0]"},
		{"bad memory", []string{"run", mod, "--memory", "lots"}, 2, "memory"},
		{"bad config", []string{"run", mod, "--config", "novalue"}, 2, "--config"},
		{"bad restart", []string{"run", mod, "--restart", "sometimes"}, 2, "--restart"},
		{"bad qos", []string{"run", mod, "--qos", "2"}, 2, "--qos"},
		{"bad mqtt url", []string{"run", mod, "--mqtt", "::nope", "--cache", ""}, 2, "--mqtt"},
		{"two modules", []string{"run", mod, mod}, 2, "arg"},
		{"memory below the module's start", []string{"run", mod, "--memory", "64KiB", "--mqtt", url, "--cache", ""}, 1, "invalid task guest: module needs"},
		{"no message handler", []string{"run", job, "--subscribe", "a/b", "--type", "service", "--cache", ""}, 1, "does not export canopy_on_message"},
		{"no tick handler", []string{"run", job, "--tick", "1s", "--type", "service", "--cache", ""}, 1, "does not export canopy_on_tick"},
		{"negative tick", []string{"run", mod, "--tick", "-1s", "--mqtt", "tcp://127.0.0.1:1", "--cache", ""}, 2, "--tick"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err, _, _ := canopyRun(ctx, c.args...)
			if err == nil {
				t.Fatal("accepted")
			}
			if got := exitCodeQuiet(err); got != c.code {
				t.Fatalf("exit %d, want %d (%v)", got, c.code, err)
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q should be one line naming %q", err, c.want)
			}
		})
	}
}

// TestRunWithMosquittoClients: Debian's mosquitto_pub and mosquitto_sub talk
// to a task under canopy run through the embedded broker, as a user would.
func TestRunWithMosquittoClients(t *testing.T) {
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found (apt-get install mosquitto-clients)", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
	url := startBroker(t)
	host, port, _ := strings.Cut(strings.TrimPrefix(url, "tcp://"), ":")
	mod := writeModule(t, "guest")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err, _, _ := canopyRun(runCtx, "run", mod, "--mqtt", url, "--subscribe", "echo", "--publish", "echo/out", "--cache", "")
		done <- err
	}()
	sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-t", "echo/out", "-C", "1", "-W", "25")
	var out bytes.Buffer
	sub.Stdout = &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Wait() }()
	for answered := false; !answered; {
		select {
		case err := <-subDone:
			if err != nil {
				t.Fatalf("mosquitto_sub: %v", err)
			}
			answered = true
		case err := <-done:
			t.Fatalf("canopy run ended early: %v", err)
		case <-time.After(200 * time.Millisecond):
			pub := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-t", "echo", "-m", "hello from mosquitto_pub")
			if b, err := pub.CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub: %v: %s", err, b)
			}
		}
	}
	if got := strings.TrimSpace(out.String()); got != "hello from mosquitto_pub" {
		t.Fatalf("mosquitto_sub got %q", got)
	}
	stopRun()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunReportsDropsOnce: messages dropped because the task is busy are
// counted once in the final report (they were counted by the supervisor and
// again by canopy run).
func TestRunReportsDropsOnce(t *testing.T) {
	url := startBroker(t)
	mod := writeModule(t, "guest")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	type result struct {
		err    error
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		// The first "loop" keeps the task busy until its 2s call timeout;
		// one more waits in the queue, the rest are dropped.
		err, _, stderr := canopyRun(ctx, "run", mod, "--mqtt", url, "--subscribe", "loop", "--queue", "1",
			"--call-timeout", "2s", "--cache", "")
		done <- result{err, stderr}
	}()
	sent := 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if r.err == nil || !strings.Contains(r.err.Error(), "call timeout 2s exceeded") {
				t.Fatalf("canopy run: %v", r.err)
			}
			var dropped int
			for _, line := range strings.Split(r.stderr, "\n") {
				if strings.Contains(line, "task ended") {
					for _, f := range strings.Fields(line) {
						if v, ok := strings.CutPrefix(f, "dropped="); ok {
							dropped, _ = strconv.Atoi(v)
						}
					}
				}
			}
			if dropped == 0 || dropped > sent {
				t.Fatalf("reported %d dropped of %d sent", dropped, sent)
			}
			return
		case <-tick.C:
			if err := pub.Publish(ctx, "loop", []byte("x"), 1); err != nil {
				t.Fatal(err)
			}
			sent++
		case <-ctx.Done():
			t.Fatal("canopy run did not end")
		}
	}
}
