package wasmhost

import (
	"sync"
	"sync/atomic"
	"time"
)

// watchdog is one goroutine per Host that stops calls past their timeout.
// It advances epoch, the clock the call guards read (see callGuard).
type watchdog struct {
	epoch    atomic.Uint64
	interval time.Duration
	mu       sync.Mutex
	guards   map[*callGuard]struct{}
	sleeping bool // under mu: run waits on wake
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
	sleeping := w.sleeping
	w.mu.Unlock()
	if sleeping {
		select {
		case w.wake <- struct{}{}:
		default:
		}
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
	empty := 0 // ticks in a row with no guards
	for {
		w.mu.Lock()
		if len(w.guards) == 0 {
			empty++
		} else {
			empty = 0
		}
		// Sleep once no instance existed for a second: an idle host costs
		// no wake-ups, and instances that come and go (a job every few
		// hundred ms, a start benchmark) do not wake the watchdog each time.
		w.sleeping = empty > int(time.Second/w.interval)
		sleeping := w.sleeping
		w.mu.Unlock()
		if sleeping {
			select {
			case <-w.done:
				return
			case <-w.wake:
			}
			empty = 0
		}
		select {
		case <-w.done:
			return
		case <-t.C:
			w.epoch.Add(1)
			now := time.Now() // after the store: see callGuard
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
	b := g.begun.Load()
	if b != g.baseFor {
		// A new epoch was published. Its calls began before the current
		// epoch's store, which happened just before now, if b is older.
		if b < w.epoch.Load() {
			g.baseFor, g.baseAt = b, now
		}
		return
	}
	if b != g.lastAttempt && now.Sub(g.baseAt) >= time.Duration(g.timeout.Load()) {
		g.lastAttempt = b
		g.stopIfBegun(stopTimeout, b)
	}
}
