package interrupt

// form selects the instrumentation. Only formDefault is used outside the
// benchmarks, which measure the others for comparison.
type form struct {
	yield     bool // yield to Go every yieldMask+1 loop iterations and calls
	eagerFlag bool // check the flag at every loop iteration and function entry, not only when yielding
	thenTrap  bool // the flag check traps in its then-arm (see flagCheck)
}

var (
	// formDefault yields to Go and checks the flag only when it does.
	formDefault = formLazy
	// formLazy yields to Go every yieldMask+1 loop iterations and entries
	// of functions that make calls, and checks the flag then.
	formLazy = form{yield: true}
	// formEager also checks the flag at every loop iteration and function
	// entry.
	formEager = form{yield: true, eagerFlag: true}
	// formFlagOnly checks the flag at every loop iteration and function
	// entry but never yields. It is cheaper but can hang the process: see
	// yieldSequence.
	formFlagOnly = form{eagerFlag: true}
	// formThenTrap is formFlagOnly with the trap in the then-arm.
	formThenTrap = form{eagerFlag: true, thenTrap: true}
)

// yieldMask sets how often the instrumented code yields to Go: when a counter
// incremented at each loop iteration (or function entry) has its low bits
// clear, every 4096 increments.
const yieldMask = 1<<12 - 1
