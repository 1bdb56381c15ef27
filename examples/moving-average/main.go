// Command moving-average is a Canopy service that keeps a moving average of
// the last N readings of every sensor series it hears and publishes the
// aggregates on every tick.
//
// It listens on sensors/+/+ (sensors/<sensor>/<quantity>) for JSON readings
// such as {"sensor":"s1","value":21.5,"unit":"C","ts":1732550400} and, each
// tick, for every series that got new readings since the last tick,
// publishes to aggregates/<sensor>/<quantity>:
//
//	{"sensor":"s1","quantity":"temperature","avg":21.4,"min":21.1,"max":21.9,"n":10,"window":10,"ts":1732550460}
//
// n is how many readings the average covers (fewer than window until the
// window has filled); ts is the timestamp of the newest reading.
//
// Config: window (readings per average, default 10), maxSeries (series
// tracked at most, default 256; readings of further series are dropped and
// counted).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o moving_average.wasm .
package main

import (
	"errors"
	"fmt"

	canopy "github.com/canopy-fleet/canopy/sdk/go"
)

// agg is the task's state. Handlers run one at a time, so no locking.
var agg *aggregator

func init() {
	window, err := intConfig("window", 10)
	if err == nil {
		var maxSeries int
		maxSeries, err = intConfig("maxSeries", 256)
		agg = newAggregator(window, maxSeries)
	}
	if err != nil {
		canopy.Error("bad config", "err", err)
		panic(err)
	}
	canopy.Info("moving-average started", "window", agg.window, "maxSeries", agg.maxSeries)
	canopy.OnMessage(func(topic string, data []byte) error {
		r, err := parseReading(topic, data)
		if err != nil {
			return err
		}
		// topic is safe to keep (the SDK hands out a stable copy), so it
		// keys the series without a copy per message.
		return agg.add(topic, r)
	})
	canopy.OnTick(publishAggregates)
}

// publishAggregates publishes every series updated since the last tick.
// When the host rate-limits a publish, it stops and leaves the rest for the
// next tick: a task that keeps publishing after ErrRateLimited is stopped by
// the host for flooding.
func publishAggregates() error {
	var failed, deferred int
	var last error
	agg.flush(func(s *series) flushResult {
		err := canopy.Publish(s.outTopic, s.JSON())
		switch {
		case err == nil:
			return published
		case errors.Is(err, canopy.ErrRateLimited):
			deferred = agg.due()
			return stop
		default:
			failed++
			last = err
			return retry
		}
	})
	if agg.dropped > 0 {
		canopy.Warn("series limit reached, readings dropped", "maxSeries", agg.maxSeries, "dropped", agg.dropped)
		agg.dropped = 0
	}
	switch {
	case failed > 0:
		return fmt.Errorf("%d aggregates not published: %w", failed, last)
	case deferred > 0:
		return fmt.Errorf("%d aggregates deferred to the next tick: %w", deferred, canopy.ErrRateLimited)
	}
	return nil
}

// intConfig reads a positive integer config value.
func intConfig(key string, def int) (int, error) {
	v, err := canopy.ConfigInt(key, def)
	if err == nil && (v <= 0 || v > 1<<20) {
		err = fmt.Errorf("config %s: %d is not between 1 and %d", key, v, 1<<20)
	}
	return v, err
}

// main is not called in a service (a WASI reactor); the handlers are
// registered by init.
func main() {}
