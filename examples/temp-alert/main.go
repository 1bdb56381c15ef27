// Command temp-alert is a Canopy service that raises an alert when a
// temperature sensor goes above a threshold and clears it when the sensor
// comes back below the threshold minus a hysteresis band, so that a reading
// hovering around the threshold does not make the alert flap.
//
// It listens on sensors/+/temperature for JSON readings such as
//
//	{"sensor":"s1","value":31.2,"unit":"C","ts":1732550400}
//
// and publishes state changes to alerts/temperature:
//
//	{"sensor":"s1","state":"high","value":31.2,"threshold":30,"ts":1732550400}
//	{"sensor":"s1","state":"normal","value":28.7,"threshold":30,"ts":1732550460}
//
// Which sensors are in alert is kept in the task's key-value store, so a
// restarted task neither repeats an alert nor forgets to clear one.
//
// Config: threshold (°C, default 30), hysteresis (°C, default 1).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o temp_alert.wasm .
package main

import (
	"errors"
	"fmt"
	"time"

	canopy "github.com/canopy-fleet/canopy/sdk/go"
)

// AlertTopic is where state changes are published.
const AlertTopic = "alerts/temperature"

// The task's state. Handlers run one at a time, so no locking.
var (
	det *detector
	// quietUntil holds alerts back after the host rate-limited a publish.
	quietUntil time.Time
)

func init() {
	cfg, err := loadConfig()
	if err != nil {
		// A bad config is the operator's mistake: say so and fail the start.
		canopy.Error("bad config", "err", err)
		panic(err)
	}
	det = newDetector(cfg, canopy.KV)
	canopy.Info("temp-alert started", "threshold", cfg.Threshold, "hysteresis", cfg.Hysteresis)
	canopy.OnMessage(handle)
}

// handle turns one reading into at most one published state change.
func handle(topic string, data []byte) error {
	r, err := parseReading(topic, data)
	if err != nil {
		return err
	}
	a, err := det.observe(r)
	if err != nil || a == nil {
		return err
	}
	if time.Now().Before(quietUntil) {
		// Not committed: a reading after the quiet second tries again.
		return fmt.Errorf("%s alert for %s held back: %w", a.State, a.Sensor, canopy.ErrRateLimited)
	}
	if err := canopy.Publish(AlertTopic, a.JSON()); err != nil {
		if errors.Is(err, canopy.ErrRateLimited) {
			// A task that keeps publishing after ErrRateLimited is stopped
			// by the host for flooding: hold alerts back for a second.
			quietUntil = time.Now().Add(time.Second)
		}
		// Not committed: the next reading tries again.
		return fmt.Errorf("publish %s alert for %s: %w", a.State, a.Sensor, err)
	}
	canopy.Info("alert", "sensor", a.Sensor, "state", a.State, "value", a.Value)
	return det.commit(a)
}

// loadConfig reads the task's config, applying defaults and rejecting bad
// values.
func loadConfig() (config, error) {
	threshold, err := canopy.ConfigFloat("threshold", 30)
	if err != nil {
		return config{}, err
	}
	hysteresis, err := canopy.ConfigFloat("hysteresis", 1)
	if err != nil {
		return config{}, err
	}
	if hysteresis < 0 {
		return config{}, fmt.Errorf("config hysteresis: %v is negative", hysteresis)
	}
	return config{Threshold: threshold, Hysteresis: hysteresis}, nil
}

// main is not called in a service (a WASI reactor); the handlers are
// registered by init.
func main() {}
