package interrupt

// form selects the instrumentation. Only formDefault is used outside the
// benchmarks, which measure the others for comparison.
type form struct {
	yield     bool // yield to Go when a counter of loop iterations and calls reaches yieldThreshold
	eagerFlag bool // check the flag at every loop iteration and function entry, not only when yielding
	thenTrap  bool // the flag check traps in its then-arm (see flagCheck)
}

var (
	// formDefault yields to Go and checks the flag only when it does.
	formDefault = formLazy
	// formLazy yields to Go every yieldThreshold loop iterations and entries
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

// yieldThreshold sets how often the instrumented code yields to Go: when
// its counter reaches it. A loop iteration counts 1 and an entry of a
// function that makes calls 1, plus one for every weightBytes bytes of the
// loop's or the function's code (see weight): about 16,000 iterations of a
// tight loop (tens of microseconds), fewer of a bigger one.
const yieldThreshold = 1 << 14

// weightBytes is the code size that counts one more.
const weightBytes = 64

// weight is what an iteration of a loop, or an entry of a function, whose
// code is size bytes counts. It is capped so that the counter, below the
// threshold before the addition, cannot overflow.
func weight(size int) uint32 {
	w := 1 + size/weightBytes
	if w > yieldThreshold {
		w = yieldThreshold
	}
	return uint32(w)
}
