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

// callGuard tracks the calls into one instance so the watchdog can stop one
// that runs too long. A call costs two atomic increments and one uncontended
// mutex: no clock read, no timer, no allocation (measured: a reused
// time.Timer per call costs more than the whole message delivery budget).
type callGuard struct {
	seq     atomic.Uint64 // odd while a call runs
	timeout time.Duration

	mu     sync.Mutex
	raised bool
	reason int
	flag   interruptFlag

	// owned by the watchdog goroutine
	seenSeq uint64
	seenAt  time.Time
}

// interruptFlag raises and lowers the guest's interrupt global.
// *interrupt.Flag implements it.
type interruptFlag interface {
	Raise()
	Reset()
}

func (g *callGuard) begin() { g.seq.Add(1) }

// end finishes a call and reports why it was interrupted, if it was.
func (g *callGuard) end() int {
	g.mu.Lock()
	g.seq.Add(1)
	r := stopNone
	if g.raised {
		g.flag.Reset()
		g.raised = false
		r = g.reason
		g.reason = stopNone
	}
	g.mu.Unlock()
	return r
}

// stop interrupts the running call, if one runs and none raised the flag
// before; the first reason wins. seq is the call to stop (0: whichever runs).
func (g *callGuard) stop(reason int, seq uint64) {
	g.mu.Lock()
	s := g.seq.Load()
	if s&1 == 1 && (seq == 0 || s == seq) && !g.raised {
		g.raised = true
		g.reason = reason
		g.flag.Raise()
	}
	g.mu.Unlock()
}

// watchdog is one goroutine per Host that stops calls past their timeout.
type watchdog struct {
	interval time.Duration
	mu       sync.Mutex
	guards   map[*callGuard]struct{}
	wake     chan struct{}
	done     chan struct{}
	exited   chan struct{}
}

func newWatchdog(interval time.Duration) *watchdog {
	w := &watchdog{
		interval: interval,
		guards:   map[*callGuard]struct{}{},
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
	}
	go w.run()
	return w
}

func (w *watchdog) add(g *callGuard) {
	w.mu.Lock()
	w.guards[g] = struct{}{}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watchdog) remove(g *callGuard) {
	w.mu.Lock()
	delete(w.guards, g)
	w.mu.Unlock()
}

func (w *watchdog) stop() {
	close(w.done)
	<-w.exited
}

func (w *watchdog) run() {
	defer close(w.exited)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	var list []*callGuard
	for {
		w.mu.Lock()
		idle := len(w.guards) == 0
		w.mu.Unlock()
		if idle {
			// Sleep until a guard exists: an idle host costs no wake-ups.
			select {
			case <-w.done:
				return
			case <-w.wake:
			}
		}
		select {
		case <-w.done:
			return
		case now := <-t.C:
			w.mu.Lock()
			list = list[:0]
			for g := range w.guards {
				list = append(list, g)
			}
			w.mu.Unlock()
			for _, g := range list {
				w.check(g, now)
			}
		}
	}
}

func (w *watchdog) check(g *callGuard, now time.Time) {
	s := g.seq.Load()
	if s&1 == 0 {
		return
	}
	if s != g.seenSeq {
		g.seenSeq, g.seenAt = s, now
		return
	}
	if now.Sub(g.seenAt) >= g.timeout {
		g.stop(stopTimeout, s)
	}
}
