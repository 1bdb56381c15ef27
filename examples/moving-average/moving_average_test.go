//go:build !wasip1

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/canopy-fleet/canopy/examples/internal/tasktest"
	"github.com/canopy-fleet/canopy/wasmhost"
)

func decode(t *testing.T, msgs []tasktest.Message) map[string]aggregate {
	t.Helper()
	out := make(map[string]aggregate)
	for _, m := range msgs {
		var a aggregate
		if err := json.Unmarshal([]byte(m.Payload), &a); err != nil {
			t.Fatalf("aggregate on %s: %q: %v", m.Topic, m.Payload, err)
		}
		if _, dup := out[m.Topic]; dup {
			t.Errorf("two aggregates on %s in one tick", m.Topic)
		}
		out[m.Topic] = a
	}
	return out
}

func TestMovingAverageInWasmhost(t *testing.T) {
	wasm := tasktest.BuildGo(t, ".")
	task := tasktest.NewDevice(t).Start(wasm, tasktest.Manifest(t, "."), map[string]string{"window": "3"})
	send := func(topic string, v float64, ts int) {
		t.Helper()
		if err := task.Send(topic, fmt.Sprintf(`{"sensor":"x","value":%v,"ts":%d}`, v, ts)); err != nil {
			t.Fatalf("send %s %v: %v", topic, v, err)
		}
	}
	tick := func() map[string]aggregate {
		t.Helper()
		if err := task.Tick(); err != nil {
			t.Fatalf("tick: %v", err)
		}
		return decode(t, task.Take())
	}

	send("sensors/s1/temperature", 20, 1)
	send("sensors/s1/temperature", 22, 2)
	send("sensors/s2/humidity", 50, 3)
	if got := task.Take(); len(got) != 0 {
		t.Fatalf("published before the tick: %v", got)
	}
	got := tick()
	want := map[string]aggregate{
		"aggregates/s1/temperature": {Sensor: "s1", Quantity: "temperature", Avg: 21, Min: 20, Max: 22, N: 2, Window: 3, TS: 2},
		"aggregates/s2/humidity":    {Sensor: "s2", Quantity: "humidity", Avg: 50, Min: 50, Max: 50, N: 1, Window: 3, TS: 3},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("first tick:\n got %v\nwant %v", got, want)
	}

	// The window slides: 20 falls out after three more readings.
	send("sensors/s1/temperature", 24, 4)
	send("sensors/s1/temperature", 26, 5)
	got = tick()
	want = map[string]aggregate{
		"aggregates/s1/temperature": {Sensor: "s1", Quantity: "temperature", Avg: 24, Min: 22, Max: 26, N: 3, Window: 3, TS: 5},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("second tick (only s1 changed):\n got %v\nwant %v", got, want)
	}

	// Nothing new: a tick publishes nothing.
	if got := tick(); len(got) != 0 {
		t.Errorf("idle tick published %v", got)
	}

	// A long run of readings: the incremental sum stays exact.
	for i := 1; i <= 1000; i++ {
		send("sensors/s1/temperature", float64(i)/10, 5+i)
	}
	got = tick()
	if a := got["aggregates/s1/temperature"]; a.N != 3 || a.Min != 99.8 || a.Max != 100 || a.Avg < 99.9-1e-9 || a.Avg > 99.9+1e-9 {
		t.Errorf("after 1000 readings: %+v, want avg 99.9 of 99.8..100", a)
	}
}

func TestMovingAverageBadInput(t *testing.T) {
	wasm := tasktest.BuildGo(t, ".")
	task := tasktest.NewDevice(t).Start(wasm, tasktest.Manifest(t, "."), nil)
	for _, c := range []struct{ topic, payload string }{
		{"sensors/s1/temperature", `{"value":"warm"}`},
		{"sensors/s1/temperature", `{}`},
		{"sensors/s1/temperature", `[1,2`},
		{"sensors/s1/temperature", `{"value":1e999}`},
		{"sensors/s1", `{"value":1}`}, // no quantity level
	} {
		var he *wasmhost.HandlerError
		if err := task.Send(c.topic, c.payload); !errors.As(err, &he) {
			t.Errorf("%s %q: err = %v, want a handler error", c.topic, c.payload, err)
		}
	}
	if err := task.Tick(); err != nil {
		t.Fatal(err)
	}
	if got := task.Take(); len(got) != 0 {
		t.Errorf("bad input led to aggregates: %v", got)
	}
}

func TestMovingAverageMaxSeries(t *testing.T) {
	wasm := tasktest.BuildGo(t, ".")
	dev := tasktest.NewDevice(t)
	task := dev.Start(wasm, tasktest.Manifest(t, "."), map[string]string{"maxSeries": "2"})
	for _, s := range []string{"a", "b", "c", "d"} {
		if err := task.Send("sensors/"+s+"/temperature", `{"value":1}`); err != nil {
			t.Fatal(err)
		}
	}
	if err := task.Tick(); err != nil {
		t.Fatal(err)
	}
	if got := decode(t, task.Take()); len(got) != 2 {
		t.Errorf("with maxSeries 2 published %d series: %v", len(got), got)
	}
}

func TestMovingAverageBadConfig(t *testing.T) {
	wasm := tasktest.BuildGo(t, ".")
	dev := tasktest.NewDevice(t)
	mod, err := dev.Host.Load(t.Context(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"0", "-3", "ten"} {
		if _, err := dev.Host.Instantiate(t.Context(), mod, wasmhost.TaskConfig{ID: "moving-average", Config: map[string]string{"window": bad}}); err == nil {
			t.Errorf("started with window=%q", bad)
		}
	}
}

func TestMovingAverageRespectsRateLimit(t *testing.T) {
	// 30 series due at a tick, but only 10 publishes per second: the task
	// publishes 10, stops at the first rate-limited publish instead of
	// flooding (which would get it stopped), and reports the rest as
	// deferred.
	wasm := tasktest.BuildGo(t, ".")
	dep := tasktest.Manifest(t, ".")
	dep.Limits.PublishRate = 10
	task := tasktest.NewDevice(t).Start(wasm, dep, nil)
	for i := range 30 {
		if err := task.Send(fmt.Sprintf("sensors/s%02d/temperature", i), `{"value":1}`); err != nil {
			t.Fatal(err)
		}
	}
	err := task.Tick()
	var he *wasmhost.HandlerError
	if !errors.As(err, &he) {
		t.Fatalf("tick: %v, want a handler error reporting deferred aggregates", err)
	}
	// 10 is the burst; a slow machine may earn a token or two mid-tick.
	if got := task.Take(); len(got) < 10 || len(got) >= 30 {
		t.Errorf("published %d aggregates, want the 10 or so the rate allows", len(got))
	}
	if err := task.Instance().Failed(); err != nil {
		t.Fatalf("task stopped: %v", err)
	}
	if err := task.Send("sensors/s00/temperature", `{"value":2}`); err != nil {
		t.Errorf("after the rate limit: %v", err)
	}
}
