package score

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
)

// BenchmarkScore runs the standard score through wasmhost (cached
// compilation after the first) and, as the baseline, on bare wazero; it
// reports the score besides the time one takes.
//
//	go test -run '^$' -bench Score -benchtime 10x ./wasmhost/score/
func BenchmarkScore(b *testing.B) {
	ctx := context.Background()
	b.Run("wasmhost", func(b *testing.B) {
		h := newHost(b)
		sum := 0
		for b.Loop() {
			r, err := Run(ctx, h, Config{})
			if err != nil {
				b.Fatal(err)
			}
			sum += r.Score
		}
		b.ReportMetric(float64(sum)/float64(b.N), "points")
	})
	b.Run("bare-wazero", func(b *testing.B) {
		sum := 0
		for b.Loop() {
			r, err := RunWazero(ctx, wazero.NewRuntimeConfig(), Config{})
			if err != nil {
				b.Fatal(err)
			}
			sum += r.Score
		}
		b.ReportMetric(float64(sum)/float64(b.N), "points")
	})
}
