package wasmhost_test

import (
	"context"
	"testing"

	"github.com/canopy-fleet/canopy/wasmhost/runtimebench"
	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

// The figures of issue 2 as Go benchmarks: each has a canopy and a raw
// wazero side, run in the same process. `canopy bench runtime` reports the
// same pairs as medians with ratios.

func benchPair(b *testing.B, mk func(ctx context.Context, env *runtimebench.Env, wasm []byte) (*runtimebench.Pair, error)) {
	ctx := context.Background()
	env, err := runtimebench.NewEnv(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close(ctx)
	wasm, err := testmodules.Get("bench")
	if err != nil {
		b.Fatal(err)
	}
	p, err := mk(ctx, env, wasm)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for _, side := range []struct {
		name string
		op   func() error
	}{{"canopy", p.Ours}, {"raw", p.Raw}} {
		b.Run(side.name, func(b *testing.B) {
			for b.Loop() {
				if err := side.op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStartC(b *testing.B) {
	benchPair(b, func(ctx context.Context, env *runtimebench.Env, wasm []byte) (*runtimebench.Pair, error) {
		return env.StartPair(ctx, "c", wasm)
	})
}

func BenchmarkStartGo(b *testing.B) {
	benchPair(b, func(ctx context.Context, env *runtimebench.Env, _ []byte) (*runtimebench.Pair, error) {
		wasm, err := testmodules.BuildGo(b.TempDir())
		if err != nil {
			return nil, err
		}
		return env.StartPair(ctx, "go", wasm)
	})
}

func BenchmarkMessage64(b *testing.B) {
	benchPair(b, func(ctx context.Context, env *runtimebench.Env, wasm []byte) (*runtimebench.Pair, error) {
		return env.MessagePair(ctx, wasm, "sensors/dev-1/temperature", make([]byte, 64))
	})
}

func BenchmarkTightLoop(b *testing.B) {
	benchPair(b, func(ctx context.Context, env *runtimebench.Env, wasm []byte) (*runtimebench.Pair, error) {
		return env.LoopPair(ctx, wasm, runtimebench.LoopIterations)
	})
}
