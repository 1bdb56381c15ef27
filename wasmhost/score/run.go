package score

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
)

// TaskID is the id the workload runs under in a Host.
const TaskID kernel.TaskID = "canopy-score"

// limits bound the workload like any task; its call timeout leaves room for
// a slow device's calibration calls.
var limits = kernel.Limits{Memory: 16 * kernel.MiB, CallTimeout: kernel.Duration(time.Second)}

// Run measures the score on h, the engine tasks run in: the workload is
// loaded (compiled once, cached like any task module), instantiated as a
// service task and measured.
func Run(ctx context.Context, h *wasmhost.Host, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, fmt.Errorf("score config: %w", err)
	}
	cfg = cfg.withDefaults()
	m, err := h.Load(ctx, cfg.Module)
	if err != nil {
		return Result{}, fmt.Errorf("score workload: %w", err)
	}
	defer m.Close(ctx)
	inst, err := h.Instantiate(ctx, m, wasmhost.TaskConfig{ID: TaskID, Limits: limits})
	if err != nil {
		return Result{}, fmt.Errorf("score workload: %w", err)
	}
	defer inst.Close(ctx)
	return Measure(ctx, inst, cfg)
}

// RunWazero measures the score on a bare wazero runtime made with rc (no
// Canopy instrumentation or limits): wazero.NewRuntimeConfigInterpreter()
// shows what the interpreter scores, wazero.NewRuntimeConfigCompiler() is
// the baseline of wasmhost's overhead.
func RunWazero(ctx context.Context, rc wazero.RuntimeConfig, cfg Config) (_ Result, err error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, fmt.Errorf("score config: %w", err)
	}
	cfg = cfg.withDefaults()
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	defer func() { err = errors.Join(err, rt.Close(ctx)) }()
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return Result{}, fmt.Errorf("score wasi: %w", err)
	}
	compiled, err := rt.CompileModule(ctx, cfg.Module)
	if err != nil {
		return Result{}, fmt.Errorf("score workload: %w", err)
	}
	for _, f := range compiled.ImportedFunctions() {
		if m, name, _ := f.Import(); m != wasi_snapshot_preview1.ModuleName {
			return Result{}, fmt.Errorf("not the score workload: it imports %s.%s (bare wazero provides only %s)", m, name, wasi_snapshot_preview1.ModuleName)
		}
	}
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions(wasmhost.ExportInitialize))
	if err != nil {
		return Result{}, fmt.Errorf("score workload: instantiate: %w", err)
	}
	return Measure(ctx, wazeroCaller{mod}, cfg)
}

// wazeroCaller calls a bare wazero module's exports.
type wazeroCaller struct{ mod api.Module }

// Call implements Caller.
func (w wazeroCaller) Call(ctx context.Context, name string, params ...uint64) ([]uint64, error) {
	fn := w.mod.ExportedFunction(name)
	if fn == nil {
		return nil, fmt.Errorf("%s: module does not export it", name)
	}
	if n := len(fn.Definition().ParamTypes()); n != len(params) {
		return nil, fmt.Errorf("%s takes %d parameters, got %d", name, n, len(params))
	}
	return fn.Call(ctx, params...)
}
