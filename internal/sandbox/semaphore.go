package sandbox

import (
	"context"
	"sync"
	"time"
)

// slots is a counting semaphore whose capacity can change while runs hold
// slots, so MaxConcurrency applies live. Lowering the capacity never
// interrupts a run; it only delays new ones until enough runs finish.
type slots struct {
	mu       sync.Mutex
	capacity int
	inUse    int
	// changed is closed and replaced whenever a slot frees or the capacity
	// grows, waking every waiter to try again.
	changed chan struct{}
}

func newSlots(capacity int) *slots {
	return &slots{capacity: capacity, changed: make(chan struct{})}
}

// acquire takes a slot, waiting at most wait. It reports false when no slot
// freed in time; it returns ctx's error when ctx ends first.
func (s *slots) acquire(ctx context.Context, wait time.Duration) (bool, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()

	for {
		s.mu.Lock()
		if s.inUse < s.capacity {
			s.inUse++
			s.mu.Unlock()
			return true, nil
		}
		changed := s.changed
		s.mu.Unlock()

		select {
		case <-changed:
		case <-timer.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inUse--
	s.wakeLocked()
}

func (s *slots) resize(capacity int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.capacity = capacity
	s.wakeLocked()
}

func (s *slots) wakeLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}
