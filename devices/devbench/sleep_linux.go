package devbench

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// sleep blocks the calling thread for about d with nanosleep: Go's timers
// round sleeps below a millisecond up to one, which would make the sender
// write a millisecond's readings in one burst. It is a raw syscall: the
// scheduler is not told, so it does not hand the thread's P to another
// thread at every step (that doubled the generator's CPU); the generator's
// other goroutines run on the remaining Ps meanwhile.
func sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_, _, _ = syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// prSetTimerSlack is prctl's PR_SET_TIMERSLACK.
const prSetTimerSlack = 29

// fineSleeps pins the calling goroutine to its thread and lowers that
// thread's timer slack (50 µs by default) to 1 µs, so sleep keeps to the
// pace; call the returned function when done.
func fineSleeps() func() {
	runtime.LockOSThread()
	_, _, _ = syscall.Syscall(syscall.SYS_PRCTL, prSetTimerSlack, 1000, 0)
	return runtime.UnlockOSThread
}
