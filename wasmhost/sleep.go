package wasmhost

import "time"

// sleepSlice is the longest a task's sleep waits before looking whether
// its call was interrupted.
const sleepSlice = 5 * time.Millisecond

// sleep implements WASI's sleep (poll_oneoff on a clock) for the instance.
// A sleeping task is in Go, not in its own code, so the interrupt flag
// cannot stop it there: the sleep returns early instead once a raise or
// Stop is pending, and the task traps at its next check. (wazero's default
// sleep returns at once, which breaks tasks that pace themselves; a plain
// time.Sleep would hold a call past its timeout.)
func (i *Instance) sleep(ns int64) {
	if ns <= 0 {
		return
	}
	deadline := time.Now().Add(time.Duration(ns))
	for {
		left := time.Until(deadline)
		if left <= 0 || i.guard.pending.Load() {
			return
		}
		time.Sleep(min(left, sleepSlice))
	}
}
