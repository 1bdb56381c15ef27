//go:build !wasip1

// Package test runs the C example c-filter (../filter.c) in wasmhost. It
// lives in its own directory because Go refuses .c files next to Go files
// that do not use cgo.
package test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/sensorsim"
	"github.com/canopy-fleet/canopy/examples/internal/tasktest"
	"github.com/canopy-fleet/canopy/wasmhost"
)

var (
	buildOnce sync.Once
	module    []byte
)

// filterWasm builds ../filter.c once per test binary.
func filterWasm(t testing.TB) []byte {
	buildOnce.Do(func() { module = tasktest.BuildC(t, "../filter.c") })
	if module == nil {
		t.Fatal("c-filter did not build")
	}
	return module
}

func reading(v string) string { return `{"sensor":"s1","value":` + v + `,"unit":"C","ts":1732550400}` }

func TestCFilterInWasmhost(t *testing.T) {
	wasm := filterWasm(t)
	dep := tasktest.Manifest(t, "..")
	dev := tasktest.NewDevice(t)
	task := dev.Start(wasm, dep, nil) // min -40, max 125, maxStep 10, confirm 3

	steps := []struct {
		topic, value string
		pass         bool
	}{
		{"sensors/s1/temperature", "21.5", true},
		{"sensors/s1/temperature", "22", true},
		{"sensors/s1/temperature", "200", false}, // out of range
		{"sensors/s1/temperature", "-41", false}, // out of range
		{"sensors/s1/temperature", "85", false},  // spike: +63 from 22
		{"sensors/s1/temperature", "23", true},   // the spike is forgotten
		{"sensors/s2/temperature", "85", true},   // another series: its first value
		{"sensors/s1/temperature", "60", false},  // a step: first disagreeing reading
		{"sensors/s1/temperature", "61", false},  // second
		{"sensors/s1/temperature", "60.5", true}, // third in a row: the new level
		{"sensors/s1/temperature", "59", true},   // near the new level
		{"sensors/s1/humidity", "-5e0", true},    // exponent form
	}
	for i, s := range steps {
		payload := reading(s.value)
		if err := task.Send(s.topic, payload); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got := task.Take()
		want := strings.Replace(s.topic, "sensors/", "clean/", 1)
		switch {
		case s.pass && (len(got) != 1 || got[0].Topic != want || got[0].Payload != payload):
			t.Errorf("step %d (%s=%s): published %v, want %s unchanged", i, s.topic, s.value, got, want)
		case !s.pass && len(got) != 0:
			t.Errorf("step %d (%s=%s): published %v, want it dropped", i, s.topic, s.value, got)
		}
	}

	// Malformed payloads are handler errors; the task carries on.
	for _, bad := range []string{``, `{}`, `{"value":}`, `{"value":"21"}`, `{"value": nan}`, `{"value":1e999}`, `{"value`} {
		var he *wasmhost.HandlerError
		if err := task.Send("sensors/s1/temperature", bad); !errors.As(err, &he) {
			t.Errorf("payload %q: err = %v, want a handler error", bad, err)
		}
	}
	if got := task.Take(); len(got) != 0 {
		t.Errorf("malformed payloads published %v", got)
	}

	// The tick logs the counters and saves them in KV; a restarted device
	// starts from the saved totals.
	if err := task.Tick(); err != nil {
		t.Fatal(err)
	}
	const counts = "passed=7 out_of_range=2 spikes=3 malformed=7 rate_limited=0"
	if !strings.Contains(dev.Logs(), counts) {
		t.Errorf("tick did not log %q; logs:\n%s", counts, dev.Logs())
	}
	dev.Restart()
	task = dev.Start(wasm, dep, nil)
	if err := task.Send("sensors/s1/temperature", reading("59.5")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dev.Logs(), "passed=7") {
		t.Errorf("restarted task did not restore its counters; logs:\n%s", dev.Logs())
	}
}

func TestCFilterConfig(t *testing.T) {
	wasm := filterWasm(t)
	task := tasktest.NewDevice(t).Start(wasm, tasktest.Manifest(t, ".."),
		map[string]string{"min": "0", "max": "50", "maxStep": "1", "confirm": "1"})
	for _, c := range []struct {
		value string
		pass  bool
	}{
		{"-1", false}, {"10", true}, {"10.5", true}, {"51", false},
		{"20", true}, // confirm 1: a jump is accepted at once
	} {
		if err := task.Send("sensors/s9/pressure", reading(c.value)); err != nil {
			t.Fatal(err)
		}
		if got := task.Take(); (len(got) == 1) != c.pass {
			t.Errorf("value %s: published %v, want pass=%v", c.value, got, c.pass)
		}
	}
}

func TestCFilterPublishGrant(t *testing.T) {
	// Granted only clean/a/#: the filter's publish to clean/b/... is refused
	// with not-permitted, which the task reports as a handler error.
	wasm := filterWasm(t)
	dep := tasktest.Manifest(t, "..")
	dep.Publish = []string{"clean/a/#"}
	dev := tasktest.NewDevice(t)
	task := dev.Start(wasm, dep, nil)
	if err := task.Send("sensors/a/temperature", reading("20")); err != nil {
		t.Errorf("granted topic: %v", err)
	}
	var he *wasmhost.HandlerError
	if err := task.Send("sensors/b/temperature", reading("20")); !errors.As(err, &he) {
		t.Errorf("ungranted topic: err = %v, want a handler error", err)
	}
	if got := task.Take(); len(got) != 1 || got[0].Topic != "clean/a/temperature" {
		t.Errorf("published %v, want only clean/a/temperature", got)
	}
	if !strings.Contains(dev.Logs(), "publish clean/b/temperature: not permitted") {
		t.Errorf("refusal not logged; logs:\n%s", dev.Logs())
	}
}

func TestCFilterRespectsRateLimit(t *testing.T) {
	// 50 clean readings at once against a publishRate of 5: the filter
	// publishes the burst, then drops readings for a second instead of
	// flooding (which would get it stopped).
	wasm := filterWasm(t)
	dep := tasktest.Manifest(t, "..")
	dep.Limits.PublishRate = 5
	dev := tasktest.NewDevice(t)
	task := dev.Start(wasm, dep, nil)
	for i := range 50 {
		if err := task.Send("sensors/s1/temperature", reading("21")); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := task.Instance().Failed(); err != nil {
		t.Fatalf("task stopped: %v", err)
	}
	// 5 is the burst; a slow machine may earn a token or two meanwhile.
	if got := task.Take(); len(got) < 5 || len(got) >= 50 {
		t.Errorf("published %d readings, want the 5 or so the rate allows", len(got))
	}
	if err := task.Tick(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dev.Logs(), "publish rate limited: dropping readings for 1s") || !strings.Contains(dev.Logs(), "rate_limited=") {
		t.Errorf("rate limiting not logged; logs:\n%s", dev.Logs())
	}
}

// FuzzCFilterPayload feeds arbitrary payloads to the C hand parser inside
// the sandbox: every one must end in success or a handler error, never a
// trap, and whatever passes must be republished unchanged.
func FuzzCFilterPayload(f *testing.F) {
	for _, s := range []string{
		reading("21.5"), `{"value":-0.0}`, `{"value" : 1e2}`, `{"name":"value","value":3}`,
		`"value"`, `"value":`, `{"value":` + strings.Repeat("9", 200) + `}`, `{"value":+-.eE}`,
		"\x00\"value\":1", `{"value":1` + strings.Repeat(" ", 70000) + `}`,
	} {
		f.Add([]byte(s))
	}
	wasm := filterWasm(f)
	dep := tasktest.Manifest(f, "..")
	dep.Limits.PublishRate = 1 << 30 // fuzzing publishes far faster than a sensor
	task := tasktest.NewDevice(f).Start(wasm, dep, map[string]string{"maxStep": "1e9"})
	f.Fuzz(func(t *testing.T, payload []byte) {
		err := task.Instance().OnMessage(t.Context(), "sensors/f/temperature", payload)
		var he *wasmhost.HandlerError
		if err != nil && !errors.As(err, &he) {
			t.Fatalf("payload %q: %v", payload, err)
		}
		got := task.Take()
		if err == nil && len(got) == 1 && got[0].Payload != string(payload) {
			t.Errorf("republished %q as %q", payload, got[0].Payload)
		}
		if len(got) > 1 {
			t.Errorf("one message published %d times", len(got))
		}
		if err != nil && len(got) != 0 {
			t.Errorf("failed message %q still published: %v", payload, got)
		}
	})
}

func TestCFilterOnSimulatedSensors(t *testing.T) {
	// The simulator's temperatures drift slowly and spike by +8 to +12 °C
	// for single readings; with the manifest's maxStep of 5 every spike is
	// dropped and every other reading passes.
	wasm := filterWasm(t)
	dep := tasktest.Manifest(t, "..")
	dep.Limits.PublishRate = 1 << 20 // readings arrive far faster than in the field
	task := tasktest.NewDevice(t).Start(wasm, dep, nil)
	gen := sensorsim.NewGenerator(8, 42) // s0 and s4 measure temperature
	start := time.UnixMilli(1732550400000)
	var spikes, passed, sent int
	for i := 0; sent < 4000; i++ {
		r := gen.Next(start.Add(time.Duration(i) * time.Second))
		if r.Kind != sensorsim.Temperature {
			continue
		}
		sent++
		if r.Spike {
			spikes++
		}
		payload := r.AppendJSON(nil)
		if err := task.Send(r.Topic("sensors"), string(payload)); err != nil {
			t.Fatalf("reading %d: %v", sent, err)
		}
		got := task.Take()
		switch {
		case r.Spike && len(got) != 0:
			t.Errorf("spike %s passed: %s", r.Topic("sensors"), payload)
		case !r.Spike && len(got) != 1:
			t.Errorf("clean reading %s dropped: %s", r.Topic("sensors"), payload)
		case !r.Spike:
			passed++
		}
	}
	if spikes == 0 {
		t.Fatal("the simulator produced no spikes in 4000 readings; the test proves nothing")
	}
	t.Logf("%d readings: %d spikes dropped, %d passed", sent, spikes, passed)
}
