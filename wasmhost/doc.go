// Package wasmhost runs Canopy tasks: WebAssembly core modules (WASI preview
// 1) in a wazero sandbox, with the host ABI of CONTRACT.md ("Task ABI,
// version 1"), per-task limits and CPU budgets.
//
// One Host exists per process. It owns the wazero runtime, the on-disk
// compilation cache (a module is compiled once per device, not per start), the
// badger database that holds task KV namespaces, and the watchdog that stops
// calls running past their time limit.
//
//	h, _ := wasmhost.New(ctx, wasmhost.Config{CacheDir: dir})
//	m, _ := h.Load(ctx, wasm)            // validate, instrument, compile (cached)
//	inst, _ := h.Instantiate(ctx, m, wasmhost.TaskConfig{ID: "t1", Type: kernel.TypeService})
//	err := inst.OnMessage(ctx, "sensors/a/temp", payload)
//
// One goroutine drives an instance (its calls are not locked: a message
// costs ~1.2x a raw wazero call); Instance.Stop may come from anywhere.
//
// Errors that end an instance are *LimitError (a limit was exceeded), *TrapError
// (the guest trapped) or *ExitError (the guest called proc_exit); after one of
// them the instance is unusable and a supervisor (package supervise) starts a
// new one. A non-zero return from a handler is a *HandlerError and leaves the
// instance usable.
//
// CPU budgets do not cost the task its speed: at load the module is rewritten
// (package interrupt) so that function entries and loop headers test an
// exported global; a per-Host watchdog raises it when a call outlives its
// timeout, and the guest traps at its next check. A task's WASI sleep is
// real and is cut short by the same raise. wazero's
// WithCloseOnContextDone is never used (it makes a tight loop ~70x slower).
package wasmhost
