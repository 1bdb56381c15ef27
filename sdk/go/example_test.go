package canopy_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	canopy "github.com/canopy-fleet/canopy/sdk/go"
)

// A complete service: it reads its config in init, handles messages and
// ticks, and keeps a counter in the key-value store across restarts. Build
// it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o counter.wasm .
func Example_service() {
	// In a task this is the body of func init() in package main, and
	// func main() {} is empty.
	prefix := canopy.ConfigOr("prefix", "counts")
	var count uint64
	if v, err := canopy.KV.Get("count"); err == nil {
		count, _ = strconv.ParseUint(string(v), 10, 64)
	}
	canopy.OnMessage(func(topic string, data []byte) error {
		count++
		return nil
	})
	canopy.OnTick(func() error {
		b := strconv.AppendUint(nil, count, 10)
		if err := canopy.KV.Set("count", b); err != nil {
			return fmt.Errorf("save count: %w", err)
		}
		return canopy.Publish(prefix+"/total", b)
	})
}

func ExampleOnMessage() {
	type reading struct {
		Sensor string  `json:"sensor"`
		Value  float64 `json:"value"`
	}
	canopy.OnMessage(func(topic string, data []byte) error {
		var r reading
		if err := json.Unmarshal(data, &r); err != nil {
			// Returning an error logs it and counts the message as failed.
			return fmt.Errorf("bad reading on %s: %w", topic, err)
		}
		if r.Value > 30 {
			return canopy.Publish("alerts/"+r.Sensor, data)
		}
		return nil
	})
}

func ExampleOnTick() {
	canopy.OnTick(func() error {
		canopy.Debug("tick")
		return nil
	})
}

func ExamplePublish() {
	err := canopy.Publish("alerts/temperature", []byte(`{"sensor":"s1","state":"high"}`))
	switch {
	case errors.Is(err, canopy.ErrRateLimited):
		// Over the publishRate limit: the message was dropped.
	case err != nil:
		canopy.Error("publish failed", "err", err)
	}
}

func ExampleKVStore_Get() {
	v, err := canopy.KV.Get("last-state")
	switch {
	case errors.Is(err, canopy.ErrNotFound):
		// First run on this device: nothing stored yet.
	case err != nil:
		canopy.Error("read state", "err", err)
	default:
		canopy.Info("restored", "state", string(v))
	}
}

func ExampleKVStore_Set() {
	if err := canopy.KV.Set("last-state", []byte("high")); errors.Is(err, canopy.ErrQuotaExceeded) {
		canopy.Warn("kv store full; state not saved")
	}
}

func ExampleConfig() {
	// A string value, with a default.
	unit := canopy.ConfigOr("unit", "C")
	// Typed values: the default when unset, an error naming the key when
	// set to something else. In init, a panic fails the start and logs why.
	threshold, err := canopy.ConfigFloat("threshold", 30)
	if err != nil {
		panic(err)
	}
	every, err := canopy.ConfigDuration("every", time.Minute)
	if err != nil {
		panic(err)
	}
	canopy.Info("config", "unit", unit, "threshold", threshold, "every", every)
}

func ExampleInfo() {
	// Writes the line: reading sensor=s1 value=21.5 note="cold start"
	canopy.Info("reading", "sensor", "s1", "value", 21.5, "note", "cold start")
}

func ExampleMatch() {
	fmt.Println(canopy.Match("sensors/+/temperature", "sensors/s1/temperature"))
	fmt.Println(canopy.Match("sensors/#", "sensors/s1/humidity"))
	fmt.Println(canopy.Match("sensors/+", "sensors/s1/humidity"))
	// Output:
	// true
	// true
	// false
}

func ExampleCode() {
	err := fmt.Errorf("save state: %w", canopy.ErrQuotaExceeded)
	fmt.Println(errors.Is(err, canopy.ErrQuotaExceeded))
	fmt.Println(err)
	// Output:
	// true
	// save state: canopy: quota exceeded
}
