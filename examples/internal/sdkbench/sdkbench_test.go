//go:build !wasip1

// Package sdkbench measures what the SDKs cost inside wasmhost: message
// delivery and start of a do-nothing Go task (sdk/go) against its C twin
// (sdk/c), and the per-message cost of the example tasks. Run:
//
//	cd examples && go test -run '^$' -bench . -count 5 ./internal/sdkbench/
package sdkbench

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/examples/internal/tasktest"
	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
)

func TestMain(m *testing.M) { tasktest.Main(m) }

var service = &kernel.Deployment{Name: "bench", Type: kernel.TypeService, Publish: []string{"#"},
	Limits: kernel.Limits{CallTimeout: kernel.Duration(10e9), PublishRate: 1 << 30, LogRate: 1 << 30}}

// payload64 is a 64-byte sensor reading.
var payload64 = `{"sensor":"s1","value":21.5,"unit":"C","ts":1732550400}` + strings.Repeat(" ", 9)

func modules(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"c":  tasktest.BuildC(t, "ctask/noop.c"),
		"go": tasktest.BuildGo(t, "gotask"),
	}
}

// TestBenchTasks checks that the benchmark tasks take messages and ticks,
// so the benchmarks measure working deliveries.
func TestBenchTasks(t *testing.T) {
	if len(payload64) != 64 {
		t.Fatalf("payload is %d bytes, want 64", len(payload64))
	}
	for name, wasm := range modules(t) {
		task := tasktest.NewDevice(t).Start(wasm, service, nil)
		for range 3 {
			if err := task.Send("sensors/s1/temperature", payload64); err != nil {
				t.Errorf("%s: message: %v", name, err)
			}
			if err := task.Tick(); err != nil {
				t.Errorf("%s: tick: %v", name, err)
			}
		}
	}
}

// BenchmarkMessage delivers a 64-byte message to a do-nothing handler:
// OnMessage into the guest and back. The Go/C ratio is what sdk/go's
// dispatch costs over sdk/c's.
func BenchmarkMessage(b *testing.B) {
	for _, name := range []string{"c", "go"} {
		wasm := modules(b)[name]
		b.Run(name, func(b *testing.B) {
			inst := tasktest.NewDevice(b).Start(wasm, service, nil).Instance()
			ctx := context.Background()
			payload := []byte(payload64)
			b.ReportAllocs()
			for b.Loop() {
				if err := inst.OnMessage(ctx, "sensors/s1/temperature", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStart instantiates a module whose compiled code is cached and
// runs its initialization (_initialize, with the Go runtime's start for
// the Go task), then closes it.
func BenchmarkStart(b *testing.B) {
	for _, name := range []string{"c", "go"} {
		wasm := modules(b)[name]
		b.Run(name, func(b *testing.B) {
			dev := tasktest.NewDevice(b)
			ctx := context.Background()
			mod, err := dev.Host.Load(ctx, wasm)
			if err != nil {
				b.Fatal(err)
			}
			cfg := wasmhost.TaskConfig{ID: "bench", Limits: service.Limits}
			for b.Loop() {
				inst, err := dev.Host.Instantiate(ctx, mod, cfg)
				if err != nil {
					b.Fatal(err)
				}
				inst.Close(ctx)
			}
		})
	}
}

// BenchmarkExample delivers a realistic reading to each example task,
// handler work included (JSON decoding in the Go examples, the hand parser
// and a republish in c-filter).
func BenchmarkExample(b *testing.B) {
	cases := []struct {
		name, dir string
		wasm      func(testing.TB) []byte
	}{
		{"temp-alert", "../../temp-alert", func(t testing.TB) []byte { return tasktest.BuildGo(t, "../../temp-alert") }},
		{"moving-average", "../../moving-average", func(t testing.TB) []byte { return tasktest.BuildGo(t, "../../moving-average") }},
		{"c-filter", "../../c-filter", func(t testing.TB) []byte { return tasktest.BuildC(t, "../../c-filter/filter.c") }},
	}
	for _, c := range cases {
		wasm := c.wasm(b)
		dep := tasktest.Manifest(b, c.dir)
		dep.Limits.PublishRate = 1 << 30
		dep.Limits.CallTimeout = kernel.Duration(10e9)
		b.Run(c.name, func(b *testing.B) {
			task := tasktest.NewDevice(b).Start(wasm, dep, nil)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				// Values stay in range and below temp-alert's threshold, so
				// each task does its usual work and publishes what it would.
				p := fmt.Appendf(nil, `{"sensor":"s1","value":%d.5,"unit":"C","ts":1732550400}`, 20+i%5)
				if err := task.Instance().OnMessage(ctx, "sensors/s1/temperature", p); err != nil {
					b.Fatal(err)
				}
				i++
				if i%1024 == 0 {
					task.Take()
				}
			}
		})
	}
}
