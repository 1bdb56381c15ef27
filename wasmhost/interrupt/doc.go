// Package interrupt gives wasm tasks a CPU time limit that costs them almost
// nothing while it is not used, in the manner of wasmtime's epoch
// interruption.
//
// Instrument rewrites a WebAssembly core module once, at load time, before it
// is compiled. It adds a mutable i32 global, the flag, exported as
// ExportName, and makes the code check it regularly: every loop iteration
// and every entry of a function that makes calls adds to a counter (1, plus
// 1 for every 64 bytes of the loop's or function's code), and when the
// counter reaches 16,384 the code yields to Go and checks the flag. Every
// path that can run for long passes through those places: a loop iterates,
// and recursion without loops enters functions. The counter is shared by all
// activations, so a loop that calls a function with a short loop counts as
// fast as one long loop; weighing by code size bounds the work between two
// checks even for loops with huge bodies. A loop that grows memory is a loop.
//
// The host stops a call by raising the flag (Flag.Raise) from another
// goroutine, typically a per-call timer. The running code sees it at its
// next check, after at most about 16,384 small loop iterations or calls, or
// about 1 MB of code run (tens of microseconds for tight code), and traps
// with "unreachable"; Flag.Interrupted tells that trap apart from a genuine
// one.
//
// Why yield at all: Go cannot preempt a goroutine while it runs wazero's
// compiled code. When the garbage collector stops the world it waits for
// every goroutine, so a wasm loop that never leaves compiled code would stall
// the whole process, including the timer that should raise the flag: a
// deadlock, seen in this package's tests before the yields existed. The
// yield is a memory.grow of 0 pages, the cheapest instruction that wazero
// runs in Go; a module without a memory is given an empty one for it.
//
// The instrumented code keeps the yield and the trap off the path that runs:
// loops and function bodies are wrapped in blocks so that the yield sits
// after them, not inside; see loopPrologue and bodyPrologue. The overhead
// measured with the benchmarks of this package is in docs/BENCHMARKS.md.
//
// Every function that makes calls also counts the call depth in a third
// global, exported as DepthExportName: an entry that takes it past MaxDepth
// traps. Without it, unbounded recursion grows wazero's call stack toward its
// ceiling of about 400 MB of host memory before "stack overflow", whatever
// the task's memory limit — in tens of milliseconds, before any time limit
// (measured: a recursing task took the process to 198 MB peak RSS with it
// off, 40 MB with it on).
//
// A start function runs inside instantiation, before the flag can be reached,
// so Instrument removes the start section and exports the function as
// StartExportName; the runtime calls it right after instantiation, under the
// same limit as any call.
//
// A host function called in a loop (a publish, a KV write) counts as one
// iteration; a long-running one should check Flag.Raised itself.
//
// The package depends on nothing but wazero's api package and the standard
// library.
package interrupt
