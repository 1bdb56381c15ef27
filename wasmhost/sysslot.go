package wasmhost

import (
	"log/slog"
	"sync"

	"github.com/tetratelabs/wazero"
)

// sysSlot is what an instance's module configuration points at: its stdout
// and stderr writers and its sleep. Building a configuration costs three
// wazero ModuleConfig clones (~1µs, a twentieth of a C task's start), so
// closed instances give their slot back and the next instance rebinds it.
type sysSlot struct {
	config wazero.ModuleConfig
	out    [2]streamWriter // stdout, stderr
	inst   *Instance       // the sleeper
}

// sleep is the slot's WASI sleep: its instance's.
func (s *sysSlot) sleep(ns int64) { s.inst.sleep(ns) }

// slotPool holds free slots of one Host.
type slotPool struct {
	mu   sync.Mutex
	free []*sysSlot
}

// get binds a slot to instance i, making one if none is free.
func (p *slotPool) get(base wazero.ModuleConfig, i *Instance) *sysSlot {
	p.mu.Lock()
	var s *sysSlot
	if n := len(p.free); n > 0 {
		s, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	if s == nil {
		s = &sysSlot{}
		s.out[0] = streamWriter{level: slog.LevelInfo, stream: "stdout"}
		s.out[1] = streamWriter{level: slog.LevelError, stream: "stderr"}
		s.config = base.WithStdout(&s.out[0]).WithStderr(&s.out[1]).WithNanosleep(s.sleep)
	}
	s.inst = i
	for k := range s.out {
		s.out[k].log = i.tlog
		s.out[k].buf = s.out[k].buf[:0]
	}
	return s
}

// put returns a slot whose instance's module is closed.
func (p *slotPool) put(s *sysSlot) {
	s.inst = nil
	for k := range s.out {
		s.out[k].log = nil
	}
	p.mu.Lock()
	if len(p.free) < 64 {
		p.free = append(p.free, s)
	}
	p.mu.Unlock()
}
