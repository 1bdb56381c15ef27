package wasmhost

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// limitedMemory backs one instance's linear memory and refuses to grow it
// past the task's memory limit. A refused growth stops the running call
// (memory.grow returns -1 to the guest, and the interrupt flag makes it trap
// at its next check): the task ends with "memory limit ... exceeded".
type limitedMemory struct {
	limit   uint64
	buf     []byte
	peak    atomic.Uint64
	refused bool
	guard   *callGuard
}

// Allocate implements experimental.MemoryAllocator. One limitedMemory backs
// exactly one memory.
func (m *limitedMemory) Allocate(capacity, max uint64) experimental.LinearMemory {
	if capacity > m.limit {
		capacity = m.limit
	}
	m.buf = make([]byte, 0, capacity)
	return m
}

// Reallocate implements experimental.LinearMemory.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.refused = true
		if m.guard != nil {
			m.guard.stop(stopMemory)
		}
		return nil
	}
	if size > m.peak.Load() {
		m.peak.Store(size)
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow geometrically, but never reserve past the limit.
	c := max(size, 2*uint64(cap(m.buf)))
	c = min(c, m.limit)
	nb := make([]byte, size, c)
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *limitedMemory) Free() { m.buf = nil }
