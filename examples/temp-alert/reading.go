package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// reading is one temperature sample as sensors publish it.
type reading struct {
	Sensor string  `json:"sensor"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	TS     int64   `json:"ts"`
}

// parseReading decodes a reading and converts its value to °C. A reading
// without a sensor field is named after the topic's second level
// (sensors/<sensor>/temperature).
func parseReading(topic string, data []byte) (reading, error) {
	var r struct {
		Sensor string   `json:"sensor"`
		Value  *float64 `json:"value"`
		Unit   string   `json:"unit"`
		TS     int64    `json:"ts"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return reading{}, fmt.Errorf("reading on %s: %w", topic, err)
	}
	if r.Value == nil {
		return reading{}, fmt.Errorf("reading on %s: no value", topic)
	}
	out := reading{Sensor: r.Sensor, Value: *r.Value, Unit: "C", TS: r.TS}
	if out.Sensor == "" {
		parts := strings.Split(topic, "/")
		if len(parts) != 3 || parts[1] == "" {
			return reading{}, fmt.Errorf("reading on %s: no sensor", topic)
		}
		out.Sensor = parts[1]
	}
	switch r.Unit {
	case "", "C", "c", "°C":
	case "F", "f", "°F":
		out.Value = (out.Value - 32) * 5 / 9
	case "K", "k":
		out.Value -= 273.15
	default:
		return reading{}, fmt.Errorf("reading on %s: unknown unit %q", topic, r.Unit)
	}
	if math.IsNaN(out.Value) || math.IsInf(out.Value, 0) {
		return reading{}, errors.New("reading on " + topic + ": value is not finite")
	}
	return out, nil
}
