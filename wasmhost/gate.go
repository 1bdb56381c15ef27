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

// callGuard serialises the callers of one instance and lets the watchdog
// (or Close, or a limit hit inside a host function) interrupt the one that
// holds it.
//
// Its fast path is the whole point: an uncontended acquire is one CAS and a
// release one atomic store and two loads; no clock read, timer, mutex or
// allocation per call. (Measured: a mutex per call plus a reused time.Timer
// tripled the host's cost of delivering a message over raw wazero's 28ns.)
//
// A raiser announces the call it interrupts in intent before re-checking
// seq, and the holder checks intent after changing seq. With Go's
// sequentially consistent atomics, either the raiser sees the call already
// over and raises nothing, or the holder sees the intent and clears the flag
// under mu, after the raiser is done: a raise never leaks into the next call.
type callGuard struct {
	seq     atomic.Uint64 // odd while a caller holds the instance
	intent  atomic.Uint64 // the seq a raiser is interrupting
	waiters atomic.Int32  // callers blocked in acquireSlow
	timeout atomic.Int64  // time.Duration a hold may last

	mu     sync.Mutex // serialises raisers, the clearing of a raise, and waiters
	cond   sync.Cond  // on mu: the instance was released
	raised bool
	reason int
	flag   interruptFlag

	// owned by the watchdog goroutine
	seenSeq uint64
	seenAt  time.Time
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
	g.cond.L = &g.mu
	return g
}

// acquire waits until no one else holds the instance, takes it, and returns
// the odd sequence number that names this hold.
func (g *callGuard) acquire() uint64 {
	s := g.seq.Load()
	if s&1 == 0 && g.seq.CompareAndSwap(s, s+1) {
		return s + 1
	}
	return g.acquireSlow()
}

func (g *callGuard) acquireSlow() uint64 {
	g.waiters.Add(1)
	defer g.waiters.Add(-1)
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		s := g.seq.Load()
		if s&1 == 0 && g.seq.CompareAndSwap(s, s+1) {
			return s + 1
		}
		g.cond.Wait()
	}
}

// release ends hold s: a raise aimed at it is cleared, waiters are woken.
func (g *callGuard) release(s uint64) {
	g.seq.Store(s + 1)
	if g.intent.Load() == s {
		g.mu.Lock()
		g.clearLocked()
		g.mu.Unlock()
	}
	if g.waiters.Load() > 0 {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	}
}

// take reports, after a call into the guest during hold s, why the call was
// interrupted (stopNone if it was not), and lowers the flag.
func (g *callGuard) take(s uint64) int {
	if g.intent.Load() != s {
		return stopNone
	}
	g.mu.Lock()
	r := g.clearLocked()
	g.mu.Unlock()
	return r
}

func (g *callGuard) clearLocked() int {
	if !g.raised {
		return stopNone
	}
	g.flag.Reset()
	g.raised = false
	r := g.reason
	g.reason = stopNone
	return r
}

// stop interrupts the current hold (want == 0) or hold want, if it is still
// held and not already interrupted; the first reason wins. Any goroutine may
// call it, including the holder's own (a limit hit in a host function).
func (g *callGuard) stop(reason int, want uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.seq.Load()
	if s&1 == 0 || (want != 0 && s != want) || g.raised {
		return
	}
	g.intent.Store(s)
	if g.seq.Load() != s {
		return
	}
	g.raised = true
	g.reason = reason
	g.flag.Raise()
}
