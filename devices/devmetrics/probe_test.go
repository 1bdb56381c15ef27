package devmetrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/canopy-fleet/canopy/devices/devmetrics"
	"github.com/canopy-fleet/canopy/devices/probe"
	"github.com/canopy-fleet/canopy/kernel"
)

func TestLiveMetrics(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	p, err := probe.New(probe.Config{
		Now: func() time.Time { return at },
		Override: kernel.Capability{Live: kernel.LiveStats{
			CPUPercent: 25, Load1: 1.5, MemoryFree: 1 << 30, DiskFree: 2 << 30,
			TempC: 61.5, TempLimitC: 85, Throttled: true, Uptime: time.Hour,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Monitor(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := devmetrics.NewLive(m)
	want := `
# HELP canopy_node_cpu_usage_ratio CPU use over all cores between the last two live refreshes, 0 to 1.
# TYPE canopy_node_cpu_usage_ratio gauge
canopy_node_cpu_usage_ratio 0.25
# HELP canopy_node_disk_free_bytes Free disk space where the node keeps its data.
# TYPE canopy_node_disk_free_bytes gauge
canopy_node_disk_free_bytes 2.147483648e+09
# HELP canopy_node_live_measured_timestamp_seconds Unix time of the last live refresh.
# TYPE canopy_node_live_measured_timestamp_seconds gauge
canopy_node_live_measured_timestamp_seconds 1.8e+09
# HELP canopy_node_live_refreshes_total Live refreshes taken.
# TYPE canopy_node_live_refreshes_total counter
canopy_node_live_refreshes_total 1
# HELP canopy_node_load1 One-minute load average.
# TYPE canopy_node_load1 gauge
canopy_node_load1 1.5
# HELP canopy_node_memory_free_bytes Memory available to new work.
# TYPE canopy_node_memory_free_bytes gauge
canopy_node_memory_free_bytes 1.073741824e+09
# HELP canopy_node_temperature_celsius Hottest temperature sensor; absent when the node has none.
# TYPE canopy_node_temperature_celsius gauge
canopy_node_temperature_celsius 61.5
# HELP canopy_node_temperature_limit_celsius Temperature at which the node throttles; absent when unknown.
# TYPE canopy_node_temperature_limit_celsius gauge
canopy_node_temperature_limit_celsius 85
# HELP canopy_node_throttled 1 while the node is throttling (thermal or under-voltage).
# TYPE canopy_node_throttled gauge
canopy_node_throttled 1
# HELP canopy_node_uptime_seconds Time since the node booted.
# TYPE canopy_node_uptime_seconds gauge
canopy_node_uptime_seconds 3600
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	lint(t, c)
}
