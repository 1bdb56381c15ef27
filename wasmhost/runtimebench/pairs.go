package runtimebench

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
)

// Env is what the pairs share: one wasmhost Host and one raw wazero runtime
// (compiler engine, WASI, and a canopy host module of no-op functions so
// task modules link).
type Env struct {
	Host *wasmhost.Host
	Raw  wazero.Runtime
}

// NewEnv makes a Host with its cache in cacheDir and a raw runtime.
func NewEnv(ctx context.Context, cacheDir string) (*Env, error) {
	h, err := wasmhost.New(ctx, wasmhost.Config{CacheDir: cacheDir})
	if err != nil {
		return nil, err
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		h.Close(ctx)
		return nil, err
	}
	if err := rawABI(ctx, rt); err != nil {
		h.Close(ctx)
		return nil, err
	}
	return &Env{Host: h, Raw: rt}, nil
}

// Close frees the Host and the raw runtime.
func (e *Env) Close(ctx context.Context) {
	e.Raw.Close(ctx)
	e.Host.Close(ctx)
}

// rawABI registers the canopy imports as no-ops returning 0.
func rawABI(ctx context.Context, rt wazero.Runtime) error {
	i32 := api.ValueTypeI32
	b := rt.NewHostModuleBuilder("canopy")
	nop := api.GoModuleFunc(func(context.Context, api.Module, []uint64) {})
	ret0 := api.GoModuleFunc(func(_ context.Context, _ api.Module, s []uint64) { s[0] = 0 })
	b.NewFunctionBuilder().WithGoModuleFunction(nop, []api.ValueType{i32, i32, i32}, nil).Export("log")
	for _, name := range []string{"publish", "kv_get", "kv_set", "config_get"} {
		b.NewFunctionBuilder().WithGoModuleFunction(ret0, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).Export(name)
	}
	b.NewFunctionBuilder().WithGoModuleFunction(ret0, []api.ValueType{i32, i32}, []api.ValueType{i32}).Export("kv_delete")
	_, err := b.Instantiate(ctx)
	return err
}

// StartPair: instantiate a cached compiled module and run _initialize, then
// close it. Ours is Host.Instantiate (limits, KV namespace, interrupt flag,
// ABI check); raw is Runtime.InstantiateModule of the uninstrumented module.
func (e *Env) StartPair(ctx context.Context, name string, wasm []byte) (*Pair, error) {
	m, err := e.Host.Load(ctx, wasm)
	if err != nil {
		return nil, err
	}
	cm, err := e.Raw.CompileModule(ctx, wasm)
	if err != nil {
		return nil, err
	}
	cfg := wasmhost.TaskConfig{ID: kernel.TaskID("bench-start-" + name)}
	rawCfg := rawModuleConfig()
	p := &Pair{Name: name}
	p.Ours = func() error {
		i, err := e.Host.Instantiate(ctx, m, cfg)
		if err != nil {
			return err
		}
		return i.Close(ctx)
	}
	p.Raw = func() error {
		mod, err := e.Raw.InstantiateModule(ctx, cm, rawCfg)
		if err != nil {
			return err
		}
		return mod.Close(ctx)
	}
	p.closer = append(p.closer, func() { m.Close(ctx); cm.Close(ctx) })
	return p, nil
}

// MessagePair: deliver a message (topic and payload bytes) to
// canopy_on_message and wait for its return. Ours is Instance.OnMessage;
// raw writes the same bytes into a region from canopy_alloc and calls the
// export with CallWithStack, the cheapest call wazero offers.
func (e *Env) MessagePair(ctx context.Context, wasm []byte, topic string, payload []byte) (*Pair, error) {
	m, err := e.Host.Load(ctx, wasm)
	if err != nil {
		return nil, err
	}
	inst, err := e.Host.Instantiate(ctx, m, wasmhost.TaskConfig{ID: "bench-message"})
	if err != nil {
		return nil, err
	}
	mod, err := e.rawInstance(ctx, wasm)
	if err != nil {
		return nil, err
	}
	onMsg := mod.ExportedFunction("canopy_on_message")
	res, err := mod.ExportedFunction("canopy_alloc").Call(ctx, 256)
	if err != nil {
		return nil, err
	}
	region, mem := uint32(res[0]), mod.Memory()
	stack := make([]uint64, 4)
	p := &Pair{Name: "message"}
	p.Ours = func() error { return inst.OnMessage(ctx, topic, payload) }
	p.Raw = func() error {
		buf, ok := mem.Read(region, uint32(len(topic)+len(payload)))
		if !ok {
			return fmt.Errorf("region out of bounds")
		}
		copy(buf, topic)
		copy(buf[len(topic):], payload)
		stack[0], stack[1] = uint64(region), uint64(len(topic))
		stack[2], stack[3] = uint64(region)+uint64(len(topic)), uint64(len(payload))
		if err := onMsg.CallWithStack(ctx, stack); err != nil {
			return err
		}
		if stack[0] != 0 {
			return fmt.Errorf("canopy_on_message returned %d", int32(stack[0]))
		}
		return nil
	}
	p.closer = append(p.closer, func() { inst.Close(ctx); mod.Close(ctx); m.Close(ctx) })
	return p, nil
}

// LoopPair: a tight loop of n iterations (export "spin" of the bench
// module). Ours runs the instrumented module under the call timeout and the
// watchdog; raw runs the original module with no limit at all.
func (e *Env) LoopPair(ctx context.Context, wasm []byte, n uint32) (*Pair, error) {
	return e.exportPair(ctx, wasm, "loop", "spin", n)
}

// CallsPair: call-heavy code, recursive fib(n) (export "fib"), where the
// instrumentation runs at every function entry.
func (e *Env) CallsPair(ctx context.Context, wasm []byte, n uint32) (*Pair, error) {
	return e.exportPair(ctx, wasm, "calls", "fib", n)
}

// exportPair calls export(n) of the instrumented module under limits and of
// the original module without.
func (e *Env) exportPair(ctx context.Context, wasm []byte, name, export string, n uint32) (*Pair, error) {
	m, err := e.Host.Load(ctx, wasm)
	if err != nil {
		return nil, err
	}
	inst, err := e.Host.Instantiate(ctx, m, wasmhost.TaskConfig{ID: kernel.TaskID("bench-" + name),
		Limits: kernel.Limits{CallTimeout: kernel.Duration(1e10)}})
	if err != nil {
		return nil, err
	}
	mod, err := e.rawInstance(ctx, wasm)
	if err != nil {
		return nil, err
	}
	fn := mod.ExportedFunction(export)
	if fn == nil {
		return nil, fmt.Errorf("module does not export %s", export)
	}
	stack := make([]uint64, 1)
	p := &Pair{Name: name}
	p.Ours = func() error {
		_, err := inst.Call(ctx, export, uint64(n))
		return err
	}
	p.Raw = func() error {
		stack[0] = uint64(n)
		return fn.CallWithStack(ctx, stack)
	}
	p.closer = append(p.closer, func() { inst.Close(ctx); mod.Close(ctx); m.Close(ctx) })
	return p, nil
}

// rawInstance compiles and instantiates the original module in the raw
// runtime, running _initialize.
func (e *Env) rawInstance(ctx context.Context, wasm []byte) (api.Module, error) {
	cm, err := e.Raw.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("raw compile: %w", err)
	}
	return e.Raw.InstantiateModule(ctx, cm, rawModuleConfig())
}

// rawModuleConfig is the baseline's module configuration: the system
// clocks and randomness a task gets from wasmhost too. (wazero's default,
// a deterministic math/rand source, costs ~15µs per instantiation to seed,
// which would flatter wasmhost.)
func rawModuleConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
}

// Latencies runs op n times, timing each run, and returns the sorted
// times (each includes one clock read, ~20-40ns).
func Latencies(op func() error, n int) ([]time.Duration, error) {
	out := make([]time.Duration, n)
	for k := range out {
		t0 := time.Now()
		if err := op(); err != nil {
			return nil, err
		}
		out[k] = time.Since(t0)
	}
	slices.Sort(out)
	return out, nil
}

// Percentile returns the p-th percentile (0..100) of sorted times.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(float64(len(sorted)-1) * p / 100)
	return sorted[k]
}
