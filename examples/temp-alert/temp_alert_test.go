//go:build !wasip1

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/examples/internal/tasktest"
	"github.com/canopy-fleet/canopy/wasmhost"
)

// reading formats a sensor payload.
func payload(sensor string, value float64) string {
	b, _ := json.Marshal(map[string]any{"sensor": sensor, "value": value, "unit": "C", "ts": 1732550400})
	return string(b)
}

// alerts decodes what the task published, checking the topic.
func alerts(t *testing.T, msgs []tasktest.Message) []alert {
	t.Helper()
	var out []alert
	for _, m := range msgs {
		if m.Topic != AlertTopic {
			t.Errorf("published on %q, want %q", m.Topic, AlertTopic)
		}
		var a alert
		if err := json.Unmarshal([]byte(m.Payload), &a); err != nil {
			t.Fatalf("alert %q: %v", m.Payload, err)
		}
		out = append(out, a)
	}
	return out
}

func TestTempAlertInWasmhost(t *testing.T) {
	wasm := tasktest.BuildGo(t, ".")
	dep := tasktest.Manifest(t, ".")
	dev := tasktest.NewDevice(t)
	task := dev.Start(wasm, dep, map[string]string{"threshold": "30", "hysteresis": "2"})

	steps := []struct {
		sensor string
		value  float64
		want   string // state published, "" for none
	}{
		{"s1", 25, ""},
		{"s1", 30, ""},         // at the threshold is not above it
		{"s1", 31.2, "high"},   // crosses: alert
		{"s1", 35, ""},         // still high: no repeat
		{"s1", 29, ""},         // inside the hysteresis band: no flapping
		{"s1", 30.5, ""},       // back above: still the same alert
		{"s1", 27.9, "normal"}, // below 30-2: clears
		{"s1", 29.9, ""},
		{"s2", 40, "high"}, // sensors are independent
	}
	for i, s := range steps {
		if err := task.Send("sensors/"+s.sensor+"/temperature", payload(s.sensor, s.value)); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got := alerts(t, task.Take())
		switch {
		case s.want == "" && len(got) != 0:
			t.Errorf("step %d (%s=%v): unexpected alert %+v", i, s.sensor, s.value, got)
		case s.want != "" && (len(got) != 1 || got[0].State != s.want || got[0].Sensor != s.sensor || got[0].Value != s.value || got[0].Threshold != 30):
			t.Errorf("step %d (%s=%v): got %+v, want one %q alert", i, s.sensor, s.value, got, s.want)
		}
	}

	// A device restart keeps the alert state in KV: s2 is still high, so
	// another high reading does not alert again, and a low one clears it.
	dev.Restart()
	task = dev.Start(wasm, dep, map[string]string{"threshold": "30", "hysteresis": "2"})
	if err := task.Send("sensors/s2/temperature", payload("s2", 41)); err != nil {
		t.Fatal(err)
	}
	if got := task.Take(); len(got) != 0 {
		t.Errorf("after restart, s2 alerted again: %v", got)
	}
	if err := task.Send("sensors/s2/temperature", payload("s2", 20)); err != nil {
		t.Fatal(err)
	}
	if got := alerts(t, task.Take()); len(got) != 1 || got[0].State != "normal" {
		t.Errorf("after restart, s2 clear: got %+v, want one normal alert", got)
	}
	// s1 was cleared before the restart and stays clear.
	if err := task.Send("sensors/s1/temperature", payload("s1", 29)); err != nil {
		t.Fatal(err)
	}
	if got := task.Take(); len(got) != 0 {
		t.Errorf("after restart, s1 changed: %v", got)
	}
}

func TestTempAlertFahrenheitAndTopicSensor(t *testing.T) {
	wasm := tasktest.BuildGo(t, ".")
	task := tasktest.NewDevice(t).Start(wasm, tasktest.Manifest(t, "."), nil) // manifest: threshold 30
	// 90°F is 32.2°C; no sensor field: the topic names it.
	if err := task.Send("sensors/attic/temperature", `{"value":90,"unit":"F"}`); err != nil {
		t.Fatal(err)
	}
	got := alerts(t, task.Take())
	if len(got) != 1 || got[0].Sensor != "attic" || got[0].State != "high" || got[0].Value < 32.2 || got[0].Value > 32.3 {
		t.Errorf("got %+v, want one high alert for attic at 32.2°C", got)
	}
}

func TestTempAlertBadInput(t *testing.T) {
	wasm := tasktest.BuildGo(t, ".")
	dev := tasktest.NewDevice(t)
	task := dev.Start(wasm, tasktest.Manifest(t, "."), nil)
	for _, bad := range []string{``, `not json`, `{"sensor":"s1"}`, `{"sensor":"s1","value":"hot"}`, `{"sensor":"s1","value":50,"unit":"R"}`} {
		err := task.Send("sensors/s1/temperature", bad)
		var he *wasmhost.HandlerError
		if !errors.As(err, &he) {
			t.Errorf("payload %q: err = %v, want a handler error", bad, err)
		}
	}
	if got := task.Take(); len(got) != 0 {
		t.Errorf("bad input published %v", got)
	}
	// The task is still healthy.
	if err := task.Send("sensors/s1/temperature", payload("s1", 50)); err != nil {
		t.Fatalf("after bad input: %v", err)
	}
	if got := task.Take(); len(got) != 1 {
		t.Errorf("after bad input: published %v, want one alert", got)
	}
	if logs := dev.Logs(); !strings.Contains(logs, "message handler failed") || !strings.Contains(logs, "unknown unit") {
		t.Errorf("handler errors not logged; logs:\n%s", logs)
	}
}

func TestTempAlertBadConfig(t *testing.T) {
	wasm := tasktest.BuildGo(t, ".")
	dev := tasktest.NewDevice(t)
	mod, err := dev.Host.Load(t.Context(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	dep := tasktest.Manifest(t, ".")
	_, err = dev.Host.Instantiate(t.Context(), mod, wasmhost.TaskConfig{
		ID: "temp-alert", Limits: dep.Limits, Publish: dep.Publish,
		Config: map[string]string{"threshold": "warm"},
	})
	if err == nil {
		t.Fatal("started with threshold=warm")
	}
	if logs := dev.Logs(); !strings.Contains(logs, `config threshold: \"warm\" is not a finite number`) {
		t.Errorf("bad config not named in the logs:\n%s", logs)
	}
}

func TestTempAlertRespectsRateLimit(t *testing.T) {
	// 30 sensors cross the threshold at once against a publishRate of 5:
	// the burst is published, the other alerts are held back (handler
	// errors, not committed) instead of flooding, and the task lives on.
	wasm := tasktest.BuildGo(t, ".")
	dep := tasktest.Manifest(t, ".")
	dep.Limits.PublishRate = 5
	task := tasktest.NewDevice(t).Start(wasm, dep, nil)
	var held int
	for i := range 30 {
		s := fmt.Sprintf("s%02d", i)
		err := task.Send("sensors/"+s+"/temperature", payload(s, 45))
		var he *wasmhost.HandlerError
		switch {
		case errors.As(err, &he):
			held++
		case err != nil:
			t.Fatalf("sensor %s: %v", s, err)
		}
	}
	got := task.Take()
	if len(got) < 5 || len(got)+held != 30 {
		t.Errorf("%d alerts published, %d held back; want the 5 or so the rate allows and the rest held", len(got), held)
	}
	if err := task.Instance().Failed(); err != nil {
		t.Fatalf("task stopped: %v", err)
	}
}
