package meshmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/mesh"
)

var (
	parentUpDesc  = prometheus.NewDesc("canopy_mesh_parent_up", "1 while the node's link to a parent is up; absent on the root.", nil, nil)
	childrenDesc  = prometheus.NewDesc("canopy_mesh_children", "Children linked to the node now.", nil, nil)
	rttDesc       = prometheus.NewDesc("canopy_mesh_link_rtt_seconds", "Round trip to a linked node (the transport's smoothed RTT, else the last heartbeat's) or to a probed alternate parent or sibling.", []string{"peer"}, nil)
	relayedDesc   = prometheus.NewDesc("canopy_mesh_relayed_total", "Routed messages the node passed on to another hop.", nil, nil)
	forwardDesc   = prometheus.NewDesc("canopy_mesh_publications_forwarded_total", "Publications the node forwarded on a link.", nil, nil)
	droppedDesc   = prometheus.NewDesc("canopy_mesh_frames_dropped_total", "Frames the node refused as malformed or unknown.", nil, nil)
	outboxDesc    = prometheus.NewDesc("canopy_mesh_outbox_messages_total", "Outbox messages delivered to this node (root) or acknowledged to it (sender).", nil, nil)
	blobServeDesc = prometheus.NewDesc("canopy_mesh_blobs_served_total", "Blob downloads the node served from its store.", nil, nil)
	blobFetchDesc = prometheus.NewDesc("canopy_mesh_blobs_fetched_total", "Blob downloads the node made from its parent (and cached).", nil, nil)

	reqSentDesc     = prometheus.NewDesc("canopy_mesh_requests_sent_total", "Requests the node made, to any node.", nil, nil)
	reqFailedDesc   = prometheus.NewDesc("canopy_mesh_requests_failed_total", "Requests the node made that ended in an error, timeouts included.", nil, nil)
	reqTimeoutDesc  = prometheus.NewDesc("canopy_mesh_requests_timed_out_total", "Requests the node made whose deadline passed, here, on a hop or in the handler (also counted as failed).", nil, nil)
	reqServedDesc   = prometheus.NewDesc("canopy_mesh_requests_served_total", "Requests addressed to the node that it answered, with a reply or an error.", nil, nil)
	beatSentDesc    = prometheus.NewDesc("canopy_mesh_heartbeats_sent_total", "Heartbeats the node sent to its parent.", nil, nil)
	beatMissedDesc  = prometheus.NewDesc("canopy_mesh_heartbeats_missed_total", "Heartbeats the node sent that its parent did not answer in time.", nil, nil)
	beatRecvDesc    = prometheus.NewDesc("canopy_mesh_heartbeats_received_total", "Heartbeats the node received from its children.", nil, nil)
	beatTimeoutDesc = prometheus.NewDesc("canopy_mesh_heartbeat_timeouts_total", "Children the node dropped because their heartbeats stopped.", nil, nil)
	blobBytesServed = prometheus.NewDesc("canopy_mesh_blob_served_bytes_total", "Blob bytes the node sent to its children.", nil, nil)
	blobBytesFetch  = prometheus.NewDesc("canopy_mesh_blob_fetched_bytes_total", "Blob bytes the node received from its parent.", nil, nil)
	cachedBlobsDesc = prometheus.NewDesc("canopy_mesh_blobstore_blobs", "Complete blobs in the node's blob store; absent without a store.", nil, nil)
	cachedBytesDesc = prometheus.NewDesc("canopy_mesh_blobstore_bytes", "Size of the complete blobs in the node's blob store; absent without a store.", nil, nil)
	evictedDesc     = prometheus.NewDesc("canopy_mesh_blobstore_evicted_total", "Blobs the node's store dropped (least recently used) to keep within its size limit; absent without a store.", nil, nil)

	servesActiveDesc  = prometheus.NewDesc("canopy_mesh_blob_serves_active", "Blob downloads the node is serving now.", nil, nil)
	servesStalledDesc = prometheus.NewDesc("canopy_mesh_blob_serves_stalled_total", "Blob serves cut because the child stopped reading.", nil, nil)
	servesBusyDesc    = prometheus.NewDesc("canopy_mesh_blob_serves_busy_total", "Blob downloads refused because the child's link had the most serves running.", nil, nil)
	connsPendingDesc  = prometheus.NewDesc("canopy_mesh_connections_pending", "Accepted connections that have not said hello yet.", nil, nil)
	connsRefusedDesc  = prometheus.NewDesc("canopy_mesh_connections_refused_total", "Connections closed before they became child links: limits, bad or conflicting hellos.", nil, nil)
	certRefusedDesc   = prometheus.NewDesc("canopy_mesh_certificate_refusals_total", "Parent links refused because the parent did not accept this node's certificate (revoked, expired, another cluster's).", nil, nil)
	resyncsDesc       = prometheus.NewDesc("canopy_mesh_control_resyncs_total", "Links closed because a control frame failed, so that they resync.", nil, nil)
	claimsRefDesc     = prometheus.NewDesc("canopy_mesh_route_claims_refused_total", "Route claims (and fresh route proofs) from children refused: not routable through them, or no valid, newer proof.", nil, nil)
)

// Node is a prometheus.Collector of one mesh node.
type Node struct{ n *mesh.Node }

// New returns a collector that reads n at each scrape.
func New(n *mesh.Node) *Node { return &Node{n} }

// Describe implements prometheus.Collector.
func (c *Node) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{parentUpDesc, childrenDesc, rttDesc, relayedDesc, forwardDesc,
		droppedDesc, outboxDesc, blobServeDesc, blobFetchDesc, reqSentDesc, reqFailedDesc, reqTimeoutDesc,
		reqServedDesc, beatSentDesc, beatMissedDesc, beatRecvDesc, beatTimeoutDesc, blobBytesServed,
		blobBytesFetch, cachedBlobsDesc, cachedBytesDesc, evictedDesc, servesActiveDesc, servesStalledDesc,
		servesBusyDesc, connsPendingDesc, connsRefusedDesc, certRefusedDesc, resyncsDesc, claimsRefDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Node) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	if !c.n.IsRoot() {
		up := 0.0
		if c.n.Parent() != "" {
			up = 1
		}
		gauge(parentUpDesc, up)
	}
	gauge(childrenDesc, float64(len(c.n.Children())))
	for peer, d := range c.n.Latency()[c.n.Name()] {
		gauge(rttDesc, d.Seconds(), string(peer))
	}
	s := c.n.Stats()
	counter(relayedDesc, s.Relayed.Load())
	counter(forwardDesc, s.Published.Load())
	counter(droppedDesc, s.Dropped.Load())
	counter(outboxDesc, s.OutboxMessages.Load())
	counter(blobServeDesc, s.BlobServes.Load())
	counter(blobFetchDesc, s.BlobFetches.Load())
	counter(reqSentDesc, s.RequestsSent.Load())
	counter(reqFailedDesc, s.RequestsFailed.Load())
	counter(reqTimeoutDesc, s.RequestsTimedOut.Load())
	counter(reqServedDesc, s.RequestsServed.Load())
	counter(beatSentDesc, s.HeartbeatsSent.Load())
	counter(beatMissedDesc, s.HeartbeatsMissed.Load())
	counter(beatRecvDesc, s.HeartbeatsReceived.Load())
	counter(beatTimeoutDesc, s.HeartbeatTimeouts.Load())
	counter(blobBytesServed, s.BlobBytesServed.Load())
	counter(blobBytesFetch, s.BlobBytesFetched.Load())
	gauge(servesActiveDesc, float64(s.BlobServesActive.Load()))
	counter(servesStalledDesc, s.BlobServesStalled.Load())
	counter(servesBusyDesc, s.BlobServesBusy.Load())
	gauge(connsPendingDesc, float64(s.ConnsPending.Load()))
	counter(connsRefusedDesc, s.ConnsRefused.Load())
	counter(resyncsDesc, s.ControlResyncs.Load())
	counter(certRefusedDesc, s.CertificateRefusals.Load())
	counter(claimsRefDesc, s.RouteClaimsRefused.Load())
	if st := c.n.Blobs(); st != nil {
		blobs, bytes := st.Cached()
		gauge(cachedBlobsDesc, float64(blobs))
		gauge(cachedBytesDesc, float64(bytes))
		counter(evictedDesc, st.Evicted())
	}
}
