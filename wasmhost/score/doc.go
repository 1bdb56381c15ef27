// Package score is Canopy's wasm benchmark score: a short, fixed workload
// run in the same engine as tasks (wasmhost: wazero's compiler, the CPU
// budget instrumentation, the memory limit), so that a Pi Zero, a Pi 5 and a
// Xeon can be compared on the work that matters: running wasm there.
//
// The workload (src/score.c, prebuilt in wasm/score.wasm) has three kernels,
// each an export taking an iteration count: integer work (sort and CRC-32),
// floating point (a small matrix multiply) and memory-bound work (strided
// read-modify-writes over 8 MiB). The runner calibrates each kernel's
// iteration count to a short round, runs several rounds interleaved, takes
// each kernel's median time per iteration and normalises it against the
// reference machine's; the score is the geometric mean of the three, times
// 1000. The reference machine scores 1000 (see reference.go).
//
//	h, _ := wasmhost.New(ctx, wasmhost.Config{})
//	r, _ := score.Run(ctx, h, score.Config{})
//	fmt.Println(r.Score)
//
// RunWazero runs the same measurement on a bare wazero runtime of any
// configuration (the interpreter, say): a baseline for benchmarks.
package score

//go:generate clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -o wasm/score.wasm src/score.c
//go:generate clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -DNO_MEM -o testdata/nomem.wasm testdata/partial.c
//go:generate clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -DVERSION=2 -o testdata/version2.wasm testdata/partial.c
