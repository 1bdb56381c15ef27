package main

import (
	"encoding/json"
	"errors"
	"fmt"

	canopy "github.com/canopy-fleet/canopy/sdk/go"
)

// config is what the task reads from its manifest.
type config struct {
	Threshold  float64 // °C above which a sensor is in alert
	Hysteresis float64 // °C below Threshold at which the alert clears
}

// store is where the detector keeps alert states: canopy.KV in the task.
// Get returns an error matching canopy.ErrNotFound for a missing key.
type store interface {
	Get(key string) ([]byte, error)
	Set(key string, v []byte) error
	Delete(key string) error
}

// alert is a state change to publish.
type alert struct {
	Sensor    string  `json:"sensor"`
	State     string  `json:"state"` // "high" or "normal"
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	TS        int64   `json:"ts,omitempty"`
}

// JSON encodes the alert.
func (a *alert) JSON() []byte {
	b, _ := json.Marshal(a) // cannot fail: plain fields, finite floats
	return b
}

// detector tracks which sensors are in alert. high caches the store: a
// sensor's state is read from the store the first time it is seen after a
// start, then kept in memory.
type detector struct {
	cfg  config
	kv   store
	high map[string]bool
}

func newDetector(cfg config, kv store) *detector {
	return &detector{cfg: cfg, kv: kv, high: make(map[string]bool)}
}

// stateKey is the KV key of a sensor's alert state.
func stateKey(sensor string) string { return "alert/" + sensor }

// observe feeds one reading to the detector and returns the state change it
// calls for, or nil. The change takes effect only when it is committed, so
// that a change whose alert could not be published is tried again on the
// next reading.
func (d *detector) observe(r reading) (*alert, error) {
	high, known := d.high[r.Sensor]
	if !known {
		v, err := d.kv.Get(stateKey(r.Sensor))
		switch {
		case err == nil:
			high = string(v) == "high"
		case errors.Is(err, canopy.ErrNotFound):
			high = false
		default:
			return nil, fmt.Errorf("load state of %s: %w", r.Sensor, err)
		}
		d.high[r.Sensor] = high
	}
	a := &alert{Sensor: r.Sensor, Value: r.Value, Threshold: d.cfg.Threshold, TS: r.TS}
	switch {
	case !high && r.Value > d.cfg.Threshold:
		a.State = "high"
	case high && r.Value < d.cfg.Threshold-d.cfg.Hysteresis:
		a.State = "normal"
	default:
		return nil, nil
	}
	return a, nil
}

// commit makes a state change returned by observe take effect, in memory
// and in the store.
func (d *detector) commit(a *alert) error {
	high := a.State == "high"
	d.high[a.Sensor] = high
	var err error
	if high {
		err = d.kv.Set(stateKey(a.Sensor), []byte("high"))
	} else {
		err = d.kv.Delete(stateKey(a.Sensor))
	}
	if err != nil {
		return fmt.Errorf("save state of %s: %w", a.Sensor, err)
	}
	return nil
}
