package sandbox

import (
	"container/list"
	"context"
	"errors"
	"sync"

	"github.com/tetratelabs/wazero"
)

// compiledModule is a cache entry: a module compiled and vetted once, and
// shared by every run of the same bytes.
type compiledModule struct {
	hash     string
	compiled wazero.CompiledModule
	// initialPages is the largest declared initial memory, checked against
	// the memory limit of each run, since that limit may change.
	initialPages uint32
	// tableBytes is what the tables may grow to, counted against the
	// memory limit of each run.
	tableBytes uint64

	// Guarded by moduleCache.mu.
	refs    int
	evicted bool
	elem    *list.Element
}

// compileCall is a compilation in progress that other runs of the same
// module wait for, so a burst of identical new modules compiles once.
type compileCall struct {
	done chan struct{}
	err  error
}

// compileFunc compiles and vets a module; the cache stores what it returns.
type compileFunc func() (*compiledModule, error)

// moduleCache is an LRU of compiled modules keyed by content hash. An
// evicted module is closed only once no run holds it, because closing a
// wazero CompiledModule while another run is about to instantiate it would
// fail that run.
type moduleCache struct {
	mu       sync.Mutex
	capacity int
	order    *list.List // front is most recently used
	entries  map[string]*compiledModule
	inflight map[string]*compileCall
}

func newModuleCache(capacity int) *moduleCache {
	return &moduleCache{
		capacity: capacity,
		order:    list.New(),
		entries:  map[string]*compiledModule{},
		inflight: map[string]*compileCall{},
	}
}

// acquire returns the module for hash, compiling it if no one has, and
// reports whether it was already compiled. The caller must release it.
func (c *moduleCache) acquire(
	ctx context.Context, hash string, compile compileFunc,
) (*compiledModule, bool, error) {
	for {
		c.mu.Lock()
		if m, ok := c.entries[hash]; ok {
			m.refs++
			c.order.MoveToFront(m.elem)
			c.mu.Unlock()
			return m, true, nil
		}
		call, waiting := c.inflight[hash]
		if !waiting {
			call = &compileCall{done: make(chan struct{})}
			c.inflight[hash] = call
		}
		c.mu.Unlock()

		if !waiting {
			m, err := c.compileAndStore(hash, call, compile)
			return m, false, err
		}
		select {
		case <-call.done:
			if call.err != nil {
				return nil, false, call.err
			}
			// Loop: the module is cached now, unless already evicted again.
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

func (c *moduleCache) compileAndStore(
	hash string, call *compileCall, compile compileFunc,
) (*compiledModule, error) {
	m, err := compile()

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, hash)
	call.err = err
	close(call.done)
	if err != nil {
		return nil, err
	}

	m.hash = hash
	m.refs = 1
	m.elem = c.order.PushFront(m)
	c.entries[hash] = m
	c.evictLocked()
	return m, nil
}

// evictLocked drops least recently used modules beyond capacity.
func (c *moduleCache) evictLocked() {
	for c.order.Len() > c.capacity {
		oldest := c.order.Back()
		m := oldest.Value.(*compiledModule)
		c.order.Remove(oldest)
		delete(c.entries, m.hash)
		m.evicted = true
		c.closeIfUnusedLocked(m)
	}
}

func (c *moduleCache) release(m *compiledModule) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.refs--
	c.closeIfUnusedLocked(m)
}

func (c *moduleCache) closeIfUnusedLocked(m *compiledModule) {
	if m.evicted && m.refs == 0 {
		// Closing only drops wazero's reference to the machine code; it
		// reports no error in practice, and there is no one to tell here.
		_ = m.compiled.Close(context.Background())
	}
}

// close closes every cached module. Runs still holding one keep it usable
// until the runtime itself closes.
func (c *moduleCache) close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, m := range c.entries {
		errs = append(errs, m.compiled.Close(ctx))
	}
	c.entries = map[string]*compiledModule{}
	c.order.Init()
	return errors.Join(errs...)
}
