package devbench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/mosquitto"
)

// TestPipelines runs both pipelines briefly at a modest rate, with the load
// generator in a child process: every message must arrive (QoS 0 on
// loopback at 2,000/s loses nothing).
func TestPipelines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := PipelineConfig{Rate: 2000, Count: 2000, Sensors: 8, Spawn: spawnSelf}
	res, err := Canopy(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("canopy: %+v", res)
	if res.Received != cfg.Count || res.P99 <= 0 || res.LoadCPU <= 0 || len(res.Windows) == 0 {
		t.Fatalf("canopy pipeline delivered %d of %d", res.Received, cfg.Count)
	}
	if !mosquitto.Installed("") {
		if os.Getenv("CI") == "true" {
			t.Fatal("mosquitto missing: the baseline needs it in CI")
		}
		t.Skip("mosquitto not installed")
	}
	res, err = Mosquitto(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mosquitto: %+v", res)
	if res.Received != cfg.Count {
		t.Fatalf("baseline pipeline delivered %d of %d", res.Received, cfg.Count)
	}
}

// At QoS 1 every message arrives even when offered as fast as possible
// (the load generator in this process).
func TestPipelinesQoS1(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := PipelineConfig{Rate: 1e6, Count: 3000, Sensors: 8, QoS: 1, Publishers: 16}
	for name, f := range map[string]func(context.Context, PipelineConfig) (Result, error){"canopy": Canopy, "mosquitto": Mosquitto} {
		if name == "mosquitto" && !mosquitto.Installed("") {
			if os.Getenv("CI") == "true" {
				t.Fatal("mosquitto missing: the baseline needs it in CI")
			}
			continue
		}
		res, err := f(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", name, res)
		if res.Received != cfg.Count {
			t.Fatalf("%s delivered %d of %d at QoS 1", name, res.Received, cfg.Count)
		}
	}
}

func TestHandle(t *testing.T) {
	out, ok := handle([]byte(`{"sensor":"s1","kind":"temperature","value":31.5,"unit":"C","seq":42,"ts":1}`), nil)
	if !ok || string(out) != "42 31.50 alert" {
		t.Fatalf("%q %v", out, ok)
	}
	if _, ok := handle([]byte(`garbage`), nil); ok {
		t.Fatal("garbage handled")
	}
	if seq, ok := seqOf(out); !ok || seq != 42 {
		t.Fatalf("seq %d", seq)
	}
}

// A load generator that cannot reach the broker fails with the address in
// the error, in this process and in a child.
func TestLoadGeneratorUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := "127.0.0.1:1" // nothing listens on port 1
	cfg := loadConfig{Addr: addr, Rate: 100, Count: 10, Sensors: 1, Pace: pace, Drain: time.Second}
	if _, err := runLoad(ctx, cfg, func() error { return nil }); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("in process: %v", err)
	}
	if _, err := spawnLoad(ctx, spawnSelf(), cfg, func() {}); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("child: %v", err)
	}
}
