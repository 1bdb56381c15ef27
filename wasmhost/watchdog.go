package wasmhost

import (
	"sync"
	"time"
)

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
	n := g.calls.Load()
	if n != g.seenCalls {
		g.seenCalls, g.seenAt = n, now
		return
	}
	// Call n began at least timeout ago. It may have ended since: then the
	// raise is cleared, unused, when the next call begins. One attempt per
	// call.
	if n != g.lastAttempt && now.Sub(g.seenAt) >= time.Duration(g.timeout.Load()) {
		g.lastAttempt = n
		g.stop(stopTimeout, n)
	}
}
