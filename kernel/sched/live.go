package sched

import (
	"fmt"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// UpdateLive records a node's latest heartbeat — its health, when it was
// seen and its live figures — without rebuilding the cluster. A heartbeat
// that improves a node's load, temperature or free memory makes the next
// full scan of each selector rebuild its static set (one pass over the
// nodes). Static facts
// (labels, arch, devices, sensors, parent, latencies, benchmark score)
// need a new snapshot and NewCluster. Reservations of placed tasks are
// kept; tasks that are not yet running stay subtracted from the measured
// free memory.
func (c *Cluster) UpdateLive(name kernel.NodeName, health kernel.Health, lastSeen time.Time, live kernel.LiveStats) error {
	i, ok := c.ids[name]
	if !ok {
		return fmt.Errorf("update %s: unknown node", name)
	}
	oldLoad, oldThermal, oldUsed := c.loadS[i], c.thermal[i], c.usedS[i]
	nd := *c.nodes[i] // the snapshot is the caller's: change a copy
	nd.Health, nd.LastSeen, nd.Capability.Live = health, lastSeen, live
	c.nodes[i] = &nd
	c.ready[i] = health == kernel.HealthReady
	c.lastSeen[i] = 0
	if !lastSeen.IsZero() {
		c.lastSeen[i] = lastSeen.UnixNano()
	}
	c.thermal[i] = thermalScore(&live)
	measuredLive := !live.MeasuredAt.IsZero()
	busy := 0.0
	if measuredLive {
		busy = min(max(live.CPUPercent, 0), 100) / 100
	}
	c.cpuFree[i] = c.cpuCap[i] * (1 - busy)
	c.memLive[i] = -1
	if lf := int64(live.MemoryFree); lf > 0 && measuredLive {
		c.memLive[i] = lf
	}
	for _, ti := range c.onNode[i] {
		t := &c.tasks[ti]
		if !inLiveStats(t.task.State) || !measuredLive {
			c.cpuFree[i] -= t.cpu
			if c.memLive[i] >= 0 {
				c.memLive[i] -= t.mem
			}
		}
	}
	c.refresh(i)
	if c.loadS[i] > oldLoad || c.thermal[i] > oldThermal || c.usedS[i] < oldUsed {
		c.gen++ // score bounds of static sets may no longer hold
	}
	return nil
}
