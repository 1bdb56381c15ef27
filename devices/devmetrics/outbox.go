package devmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/devices/outbox"
)

var (
	outboxPendingMsgs  = gauge("canopy_outbox_pending_messages", "Messages waiting in the outbox for a destination.", "destination")
	outboxPendingBytes = gauge("canopy_outbox_pending_bytes", "Bytes waiting in the outbox for a destination, as counted against its bound.", "destination")
	outboxLimit        = gauge("canopy_outbox_limit_bytes", "The outbox's bound on pending bytes; beyond it the oldest messages are dropped.")
	outboxAppended     = counter("canopy_outbox_appended_total", "Messages stored in the outbox (duplicates not counted).")
	outboxAcked        = counter("canopy_outbox_acked_total", "Messages removed from the outbox by an acknowledgement.")
	outboxDropped      = counter("canopy_outbox_dropped_total", "Messages dropped oldest-first by the byte bound or a full disk.")
	outboxDuplicates   = counter("canopy_outbox_duplicates_total", "Appends ignored because their id was pending or recently acknowledged.")
	outboxDiskFull     = counter("canopy_outbox_disk_full_errors_total", "Appends refused because the disk under the outbox was nearly full.")
	outboxCommits      = counter("canopy_outbox_commits_total", "Group commits of the outbox (one fsync each).")
	outboxRecovery     = gauge("canopy_outbox_recovery_seconds", "Time opening the outbox spent rebuilding its index.")
)

// Outbox is a prometheus.Collector of a durable outbox's Stats and pending
// messages per destination.
type Outbox struct{ o *outbox.Outbox }

// NewOutbox returns a collector that reads o at each scrape.
func NewOutbox(o *outbox.Outbox) *Outbox { return &Outbox{o} }

// Describe implements prometheus.Collector.
func (c *Outbox) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, outboxPendingMsgs, outboxPendingBytes, outboxLimit, outboxAppended, outboxAcked,
		outboxDropped, outboxDuplicates, outboxDiskFull, outboxCommits, outboxRecovery)
}

// Collect implements prometheus.Collector.
func (c *Outbox) Collect(ch chan<- prometheus.Metric) {
	for dest, p := range c.o.PendingByDestination() {
		outboxPendingMsgs.emit(ch, float64(p.Messages), dest)
		outboxPendingBytes.emit(ch, float64(p.Bytes), dest)
	}
	s := c.o.Stats()
	outboxLimit.emit(ch, float64(s.MaxBytes))
	outboxAppended.emit(ch, float64(s.Appended))
	outboxAcked.emit(ch, float64(s.Acked))
	outboxDropped.emit(ch, float64(s.Dropped))
	outboxDuplicates.emit(ch, float64(s.Duplicates))
	outboxDiskFull.emit(ch, float64(s.DiskFull))
	outboxCommits.emit(ch, float64(s.Commits))
	outboxRecovery.emit(ch, s.Recovery.Seconds())
}
