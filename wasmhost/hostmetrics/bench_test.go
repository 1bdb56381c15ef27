package hostmetrics_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost/hostmetrics"
	"github.com/canopy-fleet/canopy/wasmhost/supervise"
)

// BenchmarkScrapeTasks100 is one scrape (gather) of 100 tasks' statuses
// (22 series each).
func BenchmarkScrapeTasks100(b *testing.B) {
	sts := make([]supervise.Status, 100)
	for i := range sts {
		sts[i] = supervise.Status{Task: kernel.TaskID(fmt.Sprint("task-", i)), State: kernel.TaskRunning,
			StartedAt: time.Now(), FailuresByCause: map[string]int{"trap": 1}}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(hostmetrics.New(func() []supervise.Status { return sts }))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
