package main

import (
	"math"
	"testing"
)

func TestSeriesOf(t *testing.T) {
	for _, c := range []struct {
		topic, sensor, quantity string
		ok                      bool
	}{
		{"sensors/s1/temperature", "s1", "temperature", true},
		{"sensors/s1", "", "", false},
		{"sensors//temperature", "", "", false},
		{"sensors/s1/", "", "", false},
		{"sensors/s1/a/b", "", "", false},
		{"other/s1/temperature", "", "", false},
	} {
		s, q, ok := seriesOf(c.topic)
		if s != c.sensor || q != c.quantity || ok != c.ok {
			t.Errorf("seriesOf(%q) = %q, %q, %v; want %q, %q, %v", c.topic, s, q, ok, c.sensor, c.quantity, c.ok)
		}
	}
}

func TestSeriesWindow(t *testing.T) {
	s := &series{ring: make([]float64, 4)}
	var all []float64
	for i := range 37 {
		v := math.Sin(float64(i)) * 100
		s.push(v, int64(i))
		all = append(all, v)
		lo := max(0, len(all)-4)
		var sum float64
		for _, x := range all[lo:] {
			sum += x
		}
		a := s.aggregate()
		if a.N != len(all[lo:]) || math.Abs(a.Avg-sum/float64(a.N)) > 1e-9 {
			t.Fatalf("after %d pushes: n=%d avg=%v, want n=%d avg=%v", i+1, a.N, a.Avg, len(all[lo:]), sum/float64(a.N))
		}
	}
}

func FuzzParseReading(f *testing.F) {
	f.Add([]byte(`{"value":21.5,"ts":1}`))
	f.Add([]byte(`{"value":null}`))
	f.Add([]byte(`{"value":1e309}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseReading("sensors/s1/temperature", data)
		if err == nil && (math.IsNaN(r.Value) || math.IsInf(r.Value, 0)) {
			t.Errorf("accepted a non-finite value: %v", r.Value)
		}
	})
}
