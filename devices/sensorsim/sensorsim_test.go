package sensorsim_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/sensorsim"
)

func TestGeneratorRealistic(t *testing.T) {
	g := sensorsim.NewGenerator(8, 42)
	now := time.Unix(1_700_000_000, 0)
	type agg struct {
		min, max, sum float64
		n, spikes     int
	}
	by := map[sensorsim.Kind]*agg{}
	for i := range 80_000 {
		r := g.Next(now.Add(time.Duration(i) * time.Millisecond))
		a := by[r.Kind]
		if a == nil {
			a = &agg{min: math.Inf(1), max: math.Inf(-1)}
			by[r.Kind] = a
		}
		a.min, a.max, a.sum, a.n = math.Min(a.min, r.Value), math.Max(a.max, r.Value), a.sum+r.Value, a.n+1
		if r.Spike {
			a.spikes++
		}
	}
	check := func(k sensorsim.Kind, lo, hi float64, spikesLo, spikesHi int) {
		a := by[k]
		mean := a.sum / float64(a.n)
		if a.min < lo || a.max > hi {
			t.Errorf("%s range [%.2f, %.2f] outside [%v, %v]", k, a.min, a.max, lo, hi)
		}
		if a.spikes < spikesLo || a.spikes > spikesHi {
			t.Errorf("%s spikes %d of %d, want %d..%d", k, a.spikes, a.n, spikesLo, spikesHi)
		}
		t.Logf("%s: n=%d mean=%.2f range=[%.2f, %.2f] spikes=%d", k, a.n, mean, a.min, a.max, a.spikes)
	}
	check(sensorsim.Temperature, 5, 50, 20, 200) // 0.5% of 20k
	check(sensorsim.Humidity, 0, 100, 0, 0)
	check(sensorsim.Vibration, 0, 3, 500, 4000) // bursts of 20-70 samples starting at 0.2%
	check(sensorsim.Power, 0, 300, 0, 0)

	// Deterministic for a seed.
	a, b := sensorsim.NewGenerator(3, 7), sensorsim.NewGenerator(3, 7)
	for range 100 {
		if ra, rb := a.Next(now), b.Next(now); ra != rb {
			t.Fatalf("same seed, different readings: %+v %+v", ra, rb)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	g := sensorsim.NewGenerator(4, 1)
	for range 100 {
		r := g.Next(time.UnixMilli(1234))
		back, err := sensorsim.ParseReading(r.AppendJSON(nil))
		if err != nil {
			t.Fatal(err)
		}
		if back.Sensor != r.Sensor || back.Kind != r.Kind || math.Abs(back.Value-r.Value) > 0.001 || back.Seq != r.Seq || back.TS != 1234 {
			t.Fatalf("%+v -> %+v", r, back)
		}
	}
	for _, bad := range []string{``, `{`, `{"sensor":"s","kind":"smell","value":1}`, `{"kind":"power","value":1}`, `[1,2]`} {
		if _, err := sensorsim.ParseReading([]byte(bad)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseReading(%q) = %v, want one-line error", bad, err)
		}
	}
}

func FuzzParseReading(f *testing.F) {
	r := sensorsim.NewGenerator(1, 1).Next(time.UnixMilli(1))
	f.Add(r.AppendJSON(nil))
	f.Add([]byte(`{"sensor":"s1","kind":"power","value":1e400}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := sensorsim.ParseReading(b)
		if err != nil {
			return
		}
		if _, err := sensorsim.ParseReading(r.AppendJSON(nil)); err != nil {
			t.Fatalf("re-encoded %+v does not parse: %v", r, err)
		}
	})
}

func TestRunBounds(t *testing.T) {
	ctx := context.Background()
	topics := map[string]int{}
	st, err := sensorsim.Run(ctx, sensorsim.Config{Sensors: 4, Rate: 1e6, Count: 1000, Prefix: "farm"}, func(_ context.Context, topic string, p []byte) error {
		topics[topic]++
		if _, err := sensorsim.ParseReading(p); err != nil {
			t.Fatal(err)
		}
		return nil
	})
	if err != nil || st.Sent != 1000 || len(topics) != 4 || topics["farm/s0/temperature"] != 250 {
		t.Fatalf("sent %d err %v topics %v", st.Sent, err, topics)
	}
	// A failing publisher stops the run with its error.
	boom := errors.New("boom")
	if _, err := sensorsim.Run(ctx, sensorsim.Config{Sensors: 1, Rate: 100, Count: 10}, func(context.Context, string, []byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("want boom, got %v", err)
	}
	// Duration bound and ctx cancellation end the run without error.
	st, err = sensorsim.Run(ctx, sensorsim.Config{Sensors: 2, Rate: 1000, Duration: 50 * time.Millisecond}, func(context.Context, string, []byte) error { return nil })
	if err != nil || st.Sent == 0 {
		t.Fatalf("duration run: %+v %v", st, err)
	}
	if _, err := sensorsim.Run(ctx, sensorsim.Config{Sensors: 2, Rate: 10}, nil); err == nil {
		t.Fatal("unbounded run accepted")
	}
	if _, err := sensorsim.Run(ctx, sensorsim.Config{}, nil); err == nil {
		t.Fatal("zero config accepted")
	}
}
