// Package interrupt gives wasm tasks a CPU time limit that costs them almost
// nothing while it is not used, in the manner of wasmtime's epoch interruption.
//
// Instrument rewrites a WebAssembly core module once, at load time, before it
// is compiled: it adds one mutable i32 global, exported as ExportName, and a
// check of that global at the start of every defined function body and at the
// head of every loop:
//
//	global.get $canopy_interrupt
//	i32.eqz
//	if
//	else
//	  unreachable
//	end
//
// (the trap sits in the else-arm because wazero's compiler then keeps it out
// of the loop's straight-line path; see checkSequence)
// Every path that can run for long without returning passes through one of
// those two places: a loop iterates through its header, and recursion without
// loops enters functions. A memory.grow in a loop is caught at the loop
// header. While the global is zero the check is one load, one compare and one
// branch that is never taken.
//
// The host stops a call by raising the flag (Flag.Raise) from another
// goroutine, typically a per-call timer. The running code sees the global at
// its next loop iteration or function entry and traps with "unreachable";
// Flag.Interrupted tells that trap apart from a genuine one. wazero's
// compiler reloads a global at every loop header (a loop header starts a new
// basic block with several predecessors, so the load is not reused), which
// the tests in this package check on the real engine.
//
// The package depends on nothing but wazero's api package and the standard
// library.
package interrupt
