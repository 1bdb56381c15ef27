package main

import (
	"math"
	"testing"
)

func TestParseReading(t *testing.T) {
	cases := []struct {
		name, topic, data string
		want              reading
		wantErr           bool
	}{
		{"celsius", "sensors/s1/temperature", `{"sensor":"s1","value":31.2,"unit":"C","ts":7}`, reading{"s1", 31.2, "C", 7}, false},
		{"no unit", "sensors/s1/temperature", `{"sensor":"s1","value":1}`, reading{"s1", 1, "C", 0}, false},
		{"fahrenheit", "sensors/s1/temperature", `{"sensor":"s1","value":212,"unit":"F"}`, reading{"s1", 100, "C", 0}, false},
		{"kelvin", "sensors/s1/temperature", `{"sensor":"s1","value":273.15,"unit":"K"}`, reading{"s1", 0, "C", 0}, false},
		{"sensor from topic", "sensors/attic/temperature", `{"value":20}`, reading{"attic", 20, "C", 0}, false},
		{"no value", "sensors/s1/temperature", `{"sensor":"s1"}`, reading{}, true},
		{"no sensor", "temperature", `{"value":1}`, reading{}, true},
		{"bad unit", "sensors/s1/temperature", `{"value":1,"unit":"R"}`, reading{}, true},
		{"not json", "sensors/s1/temperature", `31.2`, reading{}, true},
		{"string value", "sensors/s1/temperature", `{"value":"31"}`, reading{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseReading(c.topic, []byte(c.data))
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if !c.wantErr && (got.Sensor != c.want.Sensor || math.Abs(got.Value-c.want.Value) > 1e-9 || got.TS != c.want.TS) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func FuzzParseReading(f *testing.F) {
	f.Add("sensors/s1/temperature", []byte(`{"sensor":"s1","value":31.2,"unit":"C","ts":1}`))
	f.Add("sensors/s1/temperature", []byte(`{"value":1e308,"unit":"F"}`))
	f.Add("sensors//temperature", []byte(`{"value":-0}`))
	f.Add("", []byte(`{`))
	f.Fuzz(func(t *testing.T, topic string, data []byte) {
		r, err := parseReading(topic, data)
		if err != nil {
			return
		}
		if r.Sensor == "" || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || r.Unit != "C" {
			t.Errorf("accepted a reading it cannot alert on: %+v", r)
		}
	})
}
