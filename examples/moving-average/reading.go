package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// reading is one sample as sensors publish it.
type reading struct {
	Value float64
	TS    int64
}

// parseReading decodes the JSON reading published on topic.
func parseReading(topic string, data []byte) (reading, error) {
	var r struct {
		Value *float64 `json:"value"`
		TS    int64    `json:"ts"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return reading{}, fmt.Errorf("reading on %s: %w", topic, err)
	}
	if r.Value == nil {
		return reading{}, fmt.Errorf("reading on %s: no value", topic)
	}
	if math.IsNaN(*r.Value) || math.IsInf(*r.Value, 0) {
		return reading{}, fmt.Errorf("reading on %s: value is not finite", topic)
	}
	return reading{Value: *r.Value, TS: r.TS}, nil
}

// seriesOf splits sensors/<sensor>/<quantity> into its parts.
func seriesOf(topic string) (sensor, quantity string, ok bool) {
	rest, ok := strings.CutPrefix(topic, "sensors/")
	if !ok {
		return "", "", false
	}
	sensor, quantity, ok = strings.Cut(rest, "/")
	if !ok || sensor == "" || quantity == "" || strings.Contains(quantity, "/") {
		return "", "", false
	}
	return sensor, quantity, true
}
