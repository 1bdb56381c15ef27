package meshbench

import (
	"context"
	"flag"
	"runtime"
	"strings"
	"testing"
	"time"
)

// BenchmarkRequest is request/response over an established link: the mesh
// (framing, CBOR, routing, handler) and raw quic-go streams as the
// baseline, on loopback. Compare ns/op and the p50/p99 metrics.
func BenchmarkRequest(b *testing.B) {
	p, err := newPair(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer p.close()
	for _, c := range []struct {
		name string
		call func() error
	}{{"mesh", p.mesh}, {"raw-quic", p.raw}} {
		b.Run(c.name, func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				if err := c.call(); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			b.ReportMetric(us(percentile(ds, 0.5)), "p50-µs")
			b.ReportMetric(us(percentile(ds, 0.99)), "p99-µs")
		})
	}
}

// BenchmarkFigures runs the whole measurement set once per iteration and
// reports each figure as a metric (the same numbers `canopy bench mesh`
// prints).
func BenchmarkFigures(b *testing.B) {
	for b.Loop() {
		rs, err := All(context.Background(), Options{Quick: true, Spawn: spawnSelf})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rs {
			b.ReportMetric(r.Value, strings.NewReplacer(" ", "_", "(", "", ")", "").Replace(r.Name+"-"+r.Unit))
		}
	}
}

var (
	heapProfile = flag.String("meshbench.heapprofile", "", "file for the gateway's heap profile in BenchmarkIdleLinkMemory")
	heartbeat   = flag.Duration("meshbench.heartbeat", 0, "heartbeat interval in BenchmarkIdleLinkMemory (0: the default 500ms)")
	classical   = flag.Bool("meshbench.classical", false, "X25519 key exchange only (no post-quantum hybrid) in BenchmarkIdleLinkMemory")
	transport   = flag.Bool("meshbench.transport", false, "bare quicnet connections, no mesh nodes, in BenchmarkIdleLinkMemory (the transport's floor)")
	streamBeats = flag.Bool("meshbench.streambeats", false, "a heartbeat message on a stream every interval instead of transport liveness, in BenchmarkIdleLinkMemory")
)

// BenchmarkIdleLinkMemory is the memory figure alone: 1,000 children in
// another process linked to one gateway, idle; the metrics are KiB per link
// (heap spans in use plus goroutine stacks). -meshbench.heapprofile=FILE
// writes the gateway's heap profile at the measuring point;
// -meshbench.heartbeat, -meshbench.classical, -meshbench.transport and
// -meshbench.streambeats measure variants (what heartbeats cost, what the
// post-quantum key exchange costs, what the transport alone costs, what a
// stream per heartbeat costs).
func BenchmarkIdleLinkMemory(b *testing.B) {
	if *heapProfile != "" {
		runtime.MemProfileRate = 512 // fine-grained samples; the default 512 KiB is coarser than a link
	}
	for b.Loop() {
		rs, err := IdleLinkMemory(context.Background(), Options{Spawn: spawnSelf, HeapProfile: *heapProfile, Heartbeat: *heartbeat, ClassicalKeyExchange: *classical, Transport: *transport, StreamHeartbeats: *streamBeats})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rs[0].Value, "KiB/link")
		b.Log(rs[0].Note)
	}
}

// BenchmarkRequestLatency is the `canopy bench mesh` request figure alone:
// 5,000 requests on the mesh and on raw quic-go, interleaved one by one so
// both see the same load; the metrics are the p50 and p99 speed ratios
// (raw latency / mesh latency, so >= 0.8 is the target).
func BenchmarkRequestLatency(b *testing.B) {
	for b.Loop() {
		rs, err := RequestLatency(context.Background(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rs {
			b.ReportMetric(r.Value, strings.ReplaceAll(r.Name, " ", "-")+"-µs")
			b.ReportMetric(r.Baseline/r.Value, strings.ReplaceAll(r.Name, " ", "-")+"-speed-vs-raw")
		}
	}
}
