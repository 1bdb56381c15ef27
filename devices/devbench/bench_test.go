package devbench

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCanopyPipeline saturates the embedded-broker pipeline; b.N is
// the message count. Reports msgs/s and p99 as metrics.
func BenchmarkCanopyPipeline(b *testing.B) {
	benchPipeline(b, Canopy)
}

// BenchmarkMosquittoPipeline is the baseline for BenchmarkCanopyPipeline.
func BenchmarkMosquittoPipeline(b *testing.B) {
	benchPipeline(b, Mosquitto)
}

// BenchmarkCanopyPipelineQoS1 is BenchmarkCanopyPipeline at QoS 1 with 64
// sensor publishers waiting for acknowledgements.
func BenchmarkCanopyPipelineQoS1(b *testing.B) {
	benchPipelineQoS(b, Canopy, 1)
}

// BenchmarkMosquittoPipelineQoS1 is the baseline for
// BenchmarkCanopyPipelineQoS1.
func BenchmarkMosquittoPipelineQoS1(b *testing.B) {
	benchPipelineQoS(b, Mosquitto, 1)
}

// BenchmarkCanopyPipeline50k offers 50,000 msgs/s (the target) for
// b.N messages (at least 7 s' worth: one of warm-up, six measured).
func BenchmarkCanopyPipeline50k(b *testing.B) {
	benchPipelineAt(b, Canopy, 0, 50_000)
}

// BenchmarkMosquittoPipeline50k is the baseline for
// BenchmarkCanopyPipeline50k.
func BenchmarkMosquittoPipeline50k(b *testing.B) {
	benchPipelineAt(b, Mosquitto, 0, 50_000)
}

func benchPipeline(b *testing.B, f func(context.Context, PipelineConfig) (Result, error)) {
	benchPipelineQoS(b, f, 0)
}

func benchPipelineQoS(b *testing.B, f func(context.Context, PipelineConfig) (Result, error), qos byte) {
	benchPipelineAt(b, f, qos, 5_000_000)
}

// benchPipelineAt runs the pipeline with the load generator in a child
// process (this test binary again, see TestMain), so the profile flags
// (-cpuprofile, -memprofile, -trace) see the pipeline alone.
func benchPipelineAt(b *testing.B, f func(context.Context, PipelineConfig) (Result, error), qos byte, rate float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := max(b.N, 1000)
	if rate < 1e6 {
		n = max(n, int(rate*7))
	}
	b.ResetTimer()
	res, err := f(ctx, PipelineConfig{Rate: rate, Count: n, QoS: qos, Spawn: spawnSelf})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.Rate, "msgs/s")
	b.ReportMetric(float64(res.P50)/1e6, "p50-ms")
	b.ReportMetric(float64(res.P99)/1e6, "p99-ms")
	b.ReportMetric(float64(res.Received)/float64(res.Sent), "delivered")
	b.ReportMetric(float64(res.CPUPerMsg())/1e3, "cpu-µs/msg")
}

// BenchmarkOutboxAppends reports durable appends per second from 32
// writers for one second, against badger with one transaction per append.
func BenchmarkOutboxAppends(b *testing.B) {
	for _, c := range []struct {
		name string
		f    func(context.Context, string, int, time.Duration) (OutboxResult, error)
	}{{"outbox", OutboxAppends}, {"badger-per-txn", BadgerAppends}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				res, err := c.f(context.Background(), b.TempDir(), 32, time.Second)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.Rate, "appends/s")
			}
		})
	}
}
