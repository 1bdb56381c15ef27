package probe

import (
	"context"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Monitor refreshes the live figures every Config.Interval until its ctx
// ends. Latest may be called from any goroutine.
type Monitor struct {
	p      *Prober
	mu     sync.RWMutex
	latest kernel.LiveStats
	n      int
}

// Monitor takes one sample now and returns a monitor; call Run to keep
// refreshing.
func (p *Prober) Monitor(ctx context.Context) (*Monitor, error) {
	m := &Monitor{p: p}
	if err := m.refresh(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// Run refreshes until ctx ends; it returns nil then. onUpdate, if not nil,
// is called after each refresh with the new figures.
func (m *Monitor) Run(ctx context.Context, onUpdate func(kernel.LiveStats)) error {
	t := time.NewTicker(m.p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := m.refresh(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				m.p.cfg.Logger.Warn("live refresh", "err", err)
				continue
			}
			if onUpdate != nil {
				onUpdate(m.Latest())
			}
		}
	}
}

func (m *Monitor) refresh(ctx context.Context) error {
	l, err := m.p.Live(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.latest = l
	m.n++
	m.mu.Unlock()
	return nil
}

// Latest returns the most recent figures.
func (m *Monitor) Latest() kernel.LiveStats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.latest
}

// Refreshes counts the samples taken.
func (m *Monitor) Refreshes() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.n
}
