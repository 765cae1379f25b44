// Package ratelimit keeps a token bucket per (client, read|write class),
// with limits changed live and idle buckets evicted so memory stays bounded
// however many distinct clients appear.
package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
	"github.com/memorymcp/memory-mcp-operator/internal/toolclass"
)

const shardCount = 256

// LimitedError refuses a call over its client's budget. RetryAfter is when
// one more call of the same class would be allowed.
type LimitedError struct {
	Client     string
	Class      toolclass.Class
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("rate limit exceeded for %s calls by client %q: retry after %s",
		e.Class, e.Client, e.RetryAfter.Round(time.Millisecond))
}

// RetryAfterSeconds rounds RetryAfter up to whole seconds, as HTTP's
// Retry-After header needs, and is at least 1.
func (e *LimitedError) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

// Options configure a Limiter.
type Options struct {
	// MaxBuckets caps the buckets kept; past it, a shard evicts before it
	// inserts. Defaults to 2,000,000.
	MaxBuckets int
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// Limiter holds the buckets.
type Limiter struct {
	shards   [shardCount]shard
	seed     maphash.Seed
	limits   atomic.Pointer[limits]
	perShard int
	now      func() time.Time
}

type limits struct {
	enabled    bool
	rate       [2]rate.Limit
	burst      [2]int
	generation uint64
}

type shard struct {
	mu      sync.Mutex
	buckets map[key]*bucket
}

type key struct {
	client string
	class  toolclass.Class
}

type bucket struct {
	lim        rate.Limiter
	generation uint64
}

// New returns a limiter that allows everything until Apply is called.
func New(opts Options) *Limiter {
	if opts.MaxBuckets <= 0 {
		opts.MaxBuckets = 2_000_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Limiter{seed: maphash.MakeSeed(), perShard: max(1, opts.MaxBuckets/shardCount), now: opts.Now}
	for i := range l.shards {
		l.shards[i].buckets = map[key]*bucket{}
	}
	l.limits.Store(&limits{})
	return l
}

// Apply sets the limits from a runtime config. Existing buckets take the
// new rate and burst on their next use, keeping the tokens they hold.
func (l *Limiter) Apply(cfg runtimeconfig.RateLimits) {
	prev := l.limits.Load()
	l.limits.Store(&limits{
		enabled:    cfg.Enabled,
		rate:       [2]rate.Limit{rate.Limit(cfg.Read.RequestsPerSecond), rate.Limit(cfg.Write.RequestsPerSecond)},
		burst:      [2]int{cfg.Read.Burst, cfg.Write.Burst},
		generation: prev.generation + 1,
	})
}

// Allow takes one token from the client's bucket of class c, or returns a
// *LimitedError saying when to retry.
func (l *Limiter) Allow(client string, c toolclass.Class) error {
	lim := l.limits.Load()
	if !lim.enabled {
		return nil
	}
	now := l.now()
	k := key{client: client, class: c}
	s := &l.shards[maphash.String(l.seed, client)%shardCount]

	s.mu.Lock()
	b := s.bucket(k, lim, now, l.perShard)
	r := b.lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay > 0 {
		r.CancelAt(now)
	}
	s.mu.Unlock()

	if !r.OK() {
		return &LimitedError{Client: client, Class: c, RetryAfter: time.Second}
	}
	if delay > 0 {
		return &LimitedError{Client: client, Class: c, RetryAfter: delay}
	}
	return nil
}

// bucket finds or creates the bucket of k; s.mu is held.
func (s *shard) bucket(k key, lim *limits, now time.Time, capacity int) *bucket {
	b, ok := s.buckets[k]
	if !ok {
		if len(s.buckets) >= capacity {
			s.evict(now, capacity)
		}
		b = &bucket{generation: lim.generation}
		b.lim = *rate.NewLimiter(lim.rate[k.class], lim.burst[k.class])
		s.buckets[k] = b
	} else if b.generation != lim.generation {
		b.lim.SetLimitAt(now, lim.rate[k.class])
		b.lim.SetBurstAt(now, lim.burst[k.class])
		b.generation = lim.generation
	}
	return b
}

// evict makes room in a full shard: first buckets that refilled, then, if
// none did, arbitrary ones. Limitation: under a flood of distinct clients
// past MaxBuckets an evicted client gets a fresh, full bucket.
func (s *shard) evict(now time.Time, capacity int) {
	s.sweep(now)
	for k := range s.buckets {
		if len(s.buckets) < capacity {
			return
		}
		delete(s.buckets, k)
	}
}

// sweep removes the buckets that are full again. Forgetting a full bucket
// changes nothing: a new bucket starts full too.
func (s *shard) sweep(now time.Time) int {
	removed := 0
	for k, b := range s.buckets {
		if b.lim.TokensAt(now) >= float64(b.lim.Burst()) {
			delete(s.buckets, k)
			removed++
		}
	}
	return removed
}

// Sweep removes refilled buckets from every shard and returns how many.
func (l *Limiter) Sweep() int {
	now := l.now()
	removed := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		removed += s.sweep(now)
		s.mu.Unlock()
	}
	return removed
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// Run sweeps every interval until ctx ends.
func (l *Limiter) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Sweep()
		}
	}
}
