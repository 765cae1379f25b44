package sandbox

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// memoryGuard enforces the memory limit of one run. It is installed as the
// wazero memory allocator, so the limit can differ per run (and change live)
// while the runtime keeps one fixed page ceiling, and so the host knows for
// certain that a failed run was refused memory rather than guessing from
// the guest's own error text.
type memoryGuard struct {
	limitBytes uint64
	// refused is set when the guest asked to grow past the limit.
	refused atomic.Bool
	// initialTooLarge is set when the module's declared minimum already
	// exceeds the limit; such a module is never started.
	initialTooLarge atomic.Bool
}

func newMemoryGuard(limitPages uint32) *memoryGuard {
	return &memoryGuard{limitBytes: uint64(limitPages) * PageSize}
}

// Allocate implements experimental.MemoryAllocator.
func (g *memoryGuard) Allocate(_, _ uint64) experimental.LinearMemory {
	return &guardedMemory{guard: g}
}

// guardedMemory backs one linear memory, growing its buffer only up to the
// guard's limit.
type guardedMemory struct {
	guard     *memoryGuard
	buf       []byte
	allocated bool
}

// Reallocate implements experimental.LinearMemory. Returning nil makes the
// guest's memory.grow fail, which is how WebAssembly reports exhaustion.
func (m *guardedMemory) Reallocate(size uint64) []byte {
	limit := m.guard.limitBytes
	if size > limit {
		if !m.allocated {
			// wazero requires the initial allocation to succeed. The runtime's
			// page ceiling bounds it, and the run refuses to start the module.
			m.guard.initialTooLarge.Store(true)
			m.allocated = true
			m.buf = make([]byte, size)
			return m.buf
		}
		m.guard.refused.Store(true)
		return nil
	}
	m.allocated = true

	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Doubling keeps the copying cost linear over many small grows, and the
	// limit bounds the spare capacity.
	grown := make([]byte, size, min(max(size, 2*uint64(cap(m.buf))), limit))
	copy(grown, m.buf)
	m.buf = grown
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *guardedMemory) Free() {
	m.buf = nil
}
