//go:build !wasip1

package examples

import (
	"strconv"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/sensorsim"
	"github.com/canopy-fleet/canopy/examples/internal/tasktest"
)

func TestMain(m *testing.M) { tasktest.Main(m) }

// TestFilterThenAlert composes two examples on the simulator's temperature
// streams: fed raw readings, temp-alert raises alerts on single-reading
// spikes; fed c-filter's clean output, it raises none. The threshold sits
// just above every genuine reading of the run.
func TestFilterThenAlert(t *testing.T) {
	type reading struct {
		topic   string
		payload []byte
	}
	gen := sensorsim.NewGenerator(8, 7) // s0 and s4 measure temperature
	start := time.UnixMilli(1732550400000)
	var stream []reading
	highest := -1e9
	for i := 0; len(stream) < 3000; i++ {
		r := gen.Next(start.Add(time.Duration(i) * time.Second))
		if r.Kind != sensorsim.Temperature {
			continue
		}
		if !r.Spike {
			highest = max(highest, r.Value)
		}
		stream = append(stream, reading{r.Topic("sensors"), r.AppendJSON(nil)})
	}
	config := map[string]string{"threshold": strconv.FormatFloat(highest+1, 'f', 3, 64), "hysteresis": "1"}

	dev := tasktest.NewDevice(t)
	filterDep := tasktest.Manifest(t, "c-filter")
	filterDep.Limits.PublishRate = 1 << 20 // the stream arrives far faster than in the field
	filter := dev.Start(tasktest.BuildC(t, "c-filter/filter.c"), filterDep, nil)
	alertWasm := tasktest.BuildGo(t, "temp-alert")
	alertDep := tasktest.Manifest(t, "temp-alert")
	alertDep.Limits.PublishRate = 1 << 20
	raw := dev.Start(alertWasm, alertDep, config)
	alertDep.Name = "temp-alert-clean" // its own KV namespace
	clean := dev.Start(alertWasm, alertDep, config)

	var rawAlerts, cleanAlerts int
	for _, r := range stream {
		if err := raw.Send(r.topic, string(r.payload)); err != nil {
			t.Fatalf("raw alert: %v", err)
		}
		rawAlerts += len(raw.Take())
		if err := filter.Send(r.topic, string(r.payload)); err != nil {
			t.Fatalf("filter: %v", err)
		}
		for _, m := range filter.Take() {
			if err := clean.Send(m.Topic, m.Payload); err != nil {
				t.Fatalf("clean alert: %v", err)
			}
			cleanAlerts += len(clean.Take())
		}
	}
	if rawAlerts == 0 {
		t.Fatal("no spike crossed the threshold in the raw stream; the test proves nothing")
	}
	if cleanAlerts != 0 {
		t.Errorf("temp-alert behind c-filter raised %d alerts, want none", cleanAlerts)
	}
	t.Logf("%d readings, threshold %s: %d alerts raw, %d behind c-filter", len(stream), config["threshold"], rawAlerts, cleanAlerts)
}
