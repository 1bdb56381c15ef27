package wasmhost

import (
	"sync"
	"sync/atomic"
	"time"
)

// Why a running call was interrupted.
const (
	stopNone = iota
	stopTimeout
	stopMemory
	stopPublishFlood
	stopCanceled
)

// callGuard lets the watchdog, Stop, or a limit hit inside a host function
// interrupt the call running in one instance, without costing the calls
// that are not interrupted.
//
// A call costs one atomic add (begin) and two atomic loads: no clock read,
// timer, mutex or allocation. That matters: on the reference machine one
// locked instruction costs 14-19ns and raw wazero delivers a message in
// ~30ns, so the mutex-per-call design this replaced cost 1.7x.
//
// The protocol: a raiser sets pending, then reads calls to learn which call
// it interrupts (raisedFor), and raises the flag, all under mu. The caller
// adds to calls, then reads pending. With Go's sequentially consistent
// atomics, either the raiser saw the new call number (and aims at the new
// call, or gives up if it aimed at the old one), or the caller sees pending
// and, under mu, clears a raise aimed at an earlier call before it starts:
// a raise never interrupts a call it was not aimed at.
type callGuard struct {
	calls    atomic.Uint64 // calls begun
	pending  atomic.Bool   // a raise or stop may be pending: look under mu
	stopping atomic.Bool   // Stop was called: refuse new calls
	timeout  atomic.Int64  // time.Duration a call may last

	mu        sync.Mutex
	raised    bool
	raisedFor uint64 // the call the raise was aimed at
	reason    int
	flag      interruptFlag

	// owned by the watchdog goroutine
	seenCalls   uint64
	seenAt      time.Time
	lastAttempt uint64
}

// interruptFlag raises and lowers the guest's interrupt global;
// *interrupt.Flag implements it.
type interruptFlag interface {
	Raise()
	Reset()
}

func newCallGuard(timeout time.Duration) *callGuard {
	g := &callGuard{}
	g.timeout.Store(int64(timeout))
	return g
}

// begin starts a call and returns its number; ok is false when the
// instance is being stopped.
func (g *callGuard) begin() (n uint64, ok bool) {
	n = g.calls.Add(1)
	if g.pending.Load() {
		return n, g.beginSlow(n)
	}
	return n, true
}

func (g *callGuard) beginSlow(n uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.raised && g.raisedFor < n {
		g.clearLocked() // aimed at an earlier call (or at the idle time after it)
	}
	return !g.stopping.Load()
}

// end reports, after the guest returned from call n, why the call was
// interrupted (stopNone if it was not) and lowers the flag.
func (g *callGuard) end(n uint64) int {
	if !g.pending.Load() {
		return stopNone
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.raised {
		g.clearLocked()
		return stopNone
	}
	if g.raisedFor != n {
		g.clearLocked()
		return stopNone
	}
	return g.clearLocked()
}

// clearLocked lowers a raise and returns its reason.
func (g *callGuard) clearLocked() int {
	r := stopNone
	if g.raised {
		g.flag.Reset()
		g.raised = false
		r = g.reason
		g.reason = stopNone
	}
	if !g.stopping.Load() {
		g.pending.Store(false)
	}
	return r
}

// stop interrupts call target, or the current call if target is 0, unless
// it is already interrupted: the first reason wins. Any goroutine may call
// it, including the caller's own (a limit hit in a host function).
func (g *callGuard) stop(reason int, target uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.raised || g.flag == nil {
		return
	}
	g.pending.Store(true)
	n := g.calls.Load()
	if n == 0 || (target != 0 && n != target) {
		return // the caller will clear pending
	}
	g.raised, g.raisedFor, g.reason = true, n, reason
	g.flag.Raise()
}

// stopAll refuses every later call and interrupts the current one.
func (g *callGuard) stopAll() {
	g.stopping.Store(true)
	g.stop(stopCanceled, 0)
}
