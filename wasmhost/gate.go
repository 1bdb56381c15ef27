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
// A call costs two atomic loads: no locked instruction, clock read, timer,
// mutex or allocation. That matters: on the reference machine one locked
// instruction costs 14-19ns while raw wazero delivers a message in ~30ns
// (a mutex per call measured 1.7x, one atomic add per call 1.5x).
//
// Time is told by the watchdog's epoch, a counter it advances every
// interval. A call publishes the epoch it began in (begun) only when that
// changed since the previous call, so at most once per interval. The
// watchdog raises the flag aimed at epoch b once a full call timeout has
// passed since it stored epoch b+1: every call that read b began before
// that store, so it has run for the whole timeout; the raise never comes
// early, and at most about two intervals late.
//
// A raise may find the instance idle or between calls; the next call clears
// it before it starts (begin sees pending). A raiser sets pending, then
// re-reads begun, under mu; a call publishes begun, then reads pending.
// With Go's sequentially consistent atomics either the raiser sees the new
// epoch and gives up, or the call sees pending and clears the stale raise.
type callGuard struct {
	epoch    *atomic.Uint64 // the watchdog's clock
	begun    atomic.Uint64  // epoch of the latest call (published once per epoch)
	local    uint64         // the caller's copy of begun
	pending  atomic.Bool    // a raise or stop may be pending: look under mu
	stopping atomic.Bool    // Stop was called: refuse new calls
	timeout  atomic.Int64   // time.Duration a call may last

	mu     sync.Mutex
	raised bool
	reason int
	flag   interruptFlag

	// owned by the watchdog goroutine
	baseFor     uint64    // begun value baseAt belongs to
	baseAt      time.Time // when the epoch after baseFor was stored
	lastAttempt uint64
}

// interruptFlag raises and lowers the guest's interrupt global;
// *interrupt.Flag implements it.
type interruptFlag interface {
	Raise()
	Reset()
}

func newCallGuard(epoch *atomic.Uint64, timeout time.Duration) *callGuard {
	g := &callGuard{epoch: epoch, baseFor: ^uint64(0), lastAttempt: ^uint64(0)}
	g.timeout.Store(int64(timeout))
	return g
}

// begin starts a call; false when the instance is being stopped.
func (g *callGuard) begin() bool {
	if e := g.epoch.Load(); e != g.local {
		g.local = e
		g.begun.Store(e)
	}
	if g.pending.Load() {
		return g.beginSlow()
	}
	return true
}

func (g *callGuard) beginSlow() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.clearLocked() // anything raised before this call began was not aimed at it
	return !g.stopping.Load()
}

// end reports, after the guest returned, why the call was interrupted
// (stopNone if it was not) and lowers the flag.
func (g *callGuard) end() int {
	if !g.pending.Load() {
		return stopNone
	}
	g.mu.Lock()
	defer g.mu.Unlock()
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

// stop interrupts the running call, if any, unless it is already
// interrupted: the first reason wins. Any goroutine may call it, including
// the caller's own (a limit hit in a host function).
func (g *callGuard) stop(reason int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.raised || g.flag == nil {
		return
	}
	g.pending.Store(true)
	g.raised, g.reason = true, reason
	g.flag.Raise()
}

// stopIfBegun is the watchdog's stop: only if no call began after epoch b.
func (g *callGuard) stopIfBegun(reason int, b uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.raised || g.flag == nil {
		return
	}
	g.pending.Store(true)
	if g.begun.Load() != b {
		// A newer call began. If it saw pending it waits for mu and
		// clears it; if not, it is running and a pending left set would
		// cut every sleep of that call short (sleep returns once pending
		// is set). Nothing else is pending unless Stop was called.
		if !g.stopping.Load() {
			g.pending.Store(false)
		}
		return
	}
	g.raised, g.reason = true, reason
	g.flag.Raise()
}

// stopAll refuses every later call and interrupts the current one.
func (g *callGuard) stopAll() {
	g.stopping.Store(true)
	g.stop(stopCanceled)
}
