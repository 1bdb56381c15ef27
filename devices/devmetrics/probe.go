package devmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/devices/probe"
)

var (
	nodeCPU        = gauge("canopy_node_cpu_usage_ratio", "CPU use over all cores between the last two live refreshes, 0 to 1.")
	nodeLoad1      = gauge("canopy_node_load1", "One-minute load average.")
	nodeMemFree    = gauge("canopy_node_memory_free_bytes", "Memory available to new work.")
	nodeDiskFree   = gauge("canopy_node_disk_free_bytes", "Free disk space where the node keeps its data.")
	nodeTemp       = gauge("canopy_node_temperature_celsius", "Hottest temperature sensor; absent when the node has none.")
	nodeTempLimit  = gauge("canopy_node_temperature_limit_celsius", "Temperature at which the node throttles; absent when unknown.")
	nodeThrottled  = gauge("canopy_node_throttled", "1 while the node is throttling (thermal or under-voltage).")
	nodeUptime     = gauge("canopy_node_uptime_seconds", "Time since the node booted.")
	nodeMeasuredAt = gauge("canopy_node_live_measured_timestamp_seconds", "Unix time of the last live refresh.")
	nodeRefreshes  = counter("canopy_node_live_refreshes_total", "Live refreshes taken.")
)

// Live is a prometheus.Collector of a probe monitor's latest live figures.
// It reads what the monitor last measured; a scrape never probes.
type Live struct{ m *probe.Monitor }

// NewLive returns a collector that reads m's latest figures at each scrape.
func NewLive(m *probe.Monitor) *Live { return &Live{m} }

// Describe implements prometheus.Collector.
func (c *Live) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, nodeCPU, nodeLoad1, nodeMemFree, nodeDiskFree, nodeTemp, nodeTempLimit,
		nodeThrottled, nodeUptime, nodeMeasuredAt, nodeRefreshes)
}

// Collect implements prometheus.Collector.
func (c *Live) Collect(ch chan<- prometheus.Metric) {
	l := c.m.Latest()
	nodeCPU.emit(ch, l.CPUPercent/100)
	nodeLoad1.emit(ch, l.Load1)
	nodeMemFree.emit(ch, float64(l.MemoryFree))
	nodeDiskFree.emit(ch, float64(l.DiskFree))
	if l.TempC != 0 {
		nodeTemp.emit(ch, l.TempC)
	}
	if l.TempLimitC != 0 {
		nodeTempLimit.emit(ch, l.TempLimitC)
	}
	nodeThrottled.emit(ch, b2f(l.Throttled))
	nodeUptime.emit(ch, l.Uptime.Seconds())
	if !l.MeasuredAt.IsZero() {
		nodeMeasuredAt.emit(ch, float64(l.MeasuredAt.UnixNano())/1e9)
	}
	nodeRefreshes.emit(ch, float64(c.m.Refreshes()))
}
