package score

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

// A module without the workload's exports is refused with a one-line
// error naming what is missing, on the Host and on bare wazero alike.
func TestRejectsModuleWithoutWorkload(t *testing.T) {
	guest, err := testmodules.Get("guest") // a real task, but not the workload
	if err != nil {
		t.Fatal(err)
	}
	defer testmodules.Cleanup()
	cases := []struct {
		name       string
		wasm       []byte
		want       string
		wantWazero string // where bare wazero refuses it otherwise
	}{
		{"a plain task", guest, "not the score workload: " + ExportVersion, "not the score workload: it imports canopy."},
		{"no score_mem", testModule(t, "nomem", "-DNO_MEM"), "not the score workload: " + ExportMem, ""},
		{"another version", testModule(t, "version2", "-DVERSION=2"), "score workload version 2: the reference timings are for version 1", ""},
	}
	ctx := context.Background()
	h := newHost(t)
	for _, c := range cases {
		cfg := quick
		cfg.Module = c.wasm
		_, err := Run(ctx, h, cfg)
		checkRefusal(t, "Run "+c.name, err, c.want)
		_, err = RunWazero(ctx, wazero.NewRuntimeConfigInterpreter(), cfg)
		if c.wantWazero == "" {
			c.wantWazero = c.want
		}
		checkRefusal(t, "RunWazero "+c.name, err, c.wantWazero)
	}
}

func checkRefusal(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: no error", what)
	case !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n"):
		t.Errorf("%s: error %q, want one line containing %q", what, err, want)
	}
}

func TestRejectsBadBytes(t *testing.T) {
	ctx := context.Background()
	for _, wasm := range [][]byte{{}, []byte("not wasm"), Workload[:len(Workload)/2]} {
		cfg := quick
		cfg.Module = wasm
		if _, err := Run(ctx, newHost(t), cfg); err == nil || !strings.HasPrefix(err.Error(), "score workload: ") {
			t.Errorf("Run of %d bytes: %v", len(wasm), err)
		}
		if _, err := RunWazero(ctx, wazero.NewRuntimeConfigInterpreter(), cfg); err == nil || !strings.HasPrefix(err.Error(), "score workload: ") {
			t.Errorf("RunWazero of %d bytes: %v", len(wasm), err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	err := Config{Rounds: -1, RoundTime: time.Second}.Validate()
	if err == nil || !strings.Contains(err.Error(), "rounds -1") || !strings.Contains(err.Error(), "roundTime 1s") {
		t.Errorf("bad config: %v, want both problems named", err)
	}
	if _, err := Run(context.Background(), newHost(t), Config{RoundTime: -time.Millisecond}); err == nil ||
		!strings.Contains(err.Error(), "score config: roundTime -1ms") {
		t.Errorf("Run with a bad config: %v", err)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Measure(ctx, instance(t, newHost(t), Workload), quick); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled measurement: %v", err)
	}
}
