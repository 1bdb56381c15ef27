package sensorsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Kind is what a sensor measures.
type Kind string

// Sensor kinds.
const (
	Temperature Kind = "temperature" // °C
	Humidity    Kind = "humidity"    // % relative humidity
	Vibration   Kind = "vibration"   // g RMS
	Power       Kind = "power"       // W
)

// Kinds is every kind, in the order sensors cycle through them.
var Kinds = []Kind{Temperature, Humidity, Vibration, Power}

// Unit returns the unit of k's values.
func (k Kind) Unit() string {
	switch k {
	case Temperature:
		return "C"
	case Humidity:
		return "%"
	case Vibration:
		return "g"
	case Power:
		return "W"
	}
	return ""
}

// Reading is one sample, as published (JSON) on Topic.
type Reading struct {
	Sensor string  `json:"sensor"`
	Kind   Kind    `json:"kind"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Seq    uint64  `json:"seq"`
	TS     int64   `json:"ts"` // unix milliseconds
	Spike  bool    `json:"spike,omitempty"`
}

// Topic is where a reading is published: "<prefix>/<sensor>/<kind>".
func (r *Reading) Topic(prefix string) string { return prefix + "/" + r.Sensor + "/" + string(r.Kind) }

// AppendJSON appends the reading's JSON encoding to b without reflection
// (the generator runs at benchmark rates).
func (r *Reading) AppendJSON(b []byte) []byte {
	b = append(b, `{"sensor":`...)
	b = strconv.AppendQuote(b, r.Sensor)
	b = append(b, `,"kind":"`...)
	b = append(b, r.Kind...)
	b = append(b, `","value":`...)
	b = strconv.AppendFloat(b, r.Value, 'f', 3, 64)
	b = append(b, `,"unit":"`...)
	b = append(b, r.Unit...)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, r.TS, 10)
	if r.Spike {
		b = append(b, `,"spike":true`...)
	}
	return append(b, '}')
}

// ParseReading decodes a published reading, rejecting anything malformed
// with a one-line error.
func ParseReading(payload []byte) (Reading, error) {
	var r Reading
	if err := json.Unmarshal(payload, &r); err != nil {
		return Reading{}, fmt.Errorf("reading: %w", err)
	}
	switch {
	case r.Sensor == "":
		return Reading{}, errors.New("reading: missing sensor")
	case r.Kind.Unit() == "":
		return Reading{}, fmt.Errorf("reading: unknown kind %q", r.Kind)
	case math.IsNaN(r.Value) || math.IsInf(r.Value, 0):
		return Reading{}, errors.New("reading: value is not a finite number")
	}
	return r, nil
}

// Time is the reading's timestamp.
func (r *Reading) Time() time.Time { return time.UnixMilli(r.TS) }
