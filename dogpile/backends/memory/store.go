package memory

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// store is what both backends share: the otter cache of their entries of
// type V, its bounds, the time to live and the eviction reports.
type store[V any] struct {
	cache   *otter.Cache[string, V]
	lim     limits
	cost    func(key string, v V) int64
	fixed   time.Duration     // Options.TTL: NoTTL, a fixed TTL, or 0 to derive it
	derived driver.DerivedTTL // from the regions, when fixed is 0
	bytes   atomic.Int64      // the sum of the stored entries' costs
	notify  notifier
}

// newStore validates o and builds the cache. cost is an entry's cost in
// bytes; it is called under the cache's locks, so it must be quick and
// must not use the cache.
func newStore[V any](o Options, cost func(string, V) int64, c otter.Clock) (*store[V], error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &store[V]{lim: newLimits(o), cost: cost, fixed: o.TTL}
	opts := &otter.Options[string, V]{
		MaximumWeight: s.lim.maxWeight,
		Weigher: func(key string, v V) uint32 {
			w, _ := s.lim.weight(cost(key, v))
			return w
		},
		OnAtomicDeletion: s.deleted,
	}
	if o.TTL != NoTTL {
		opts.ExpiryCalculator = otter.ExpiryWritingFunc(func(otter.Entry[string, V]) time.Duration {
			if d := s.ttlNow(); d > 0 {
				return d
			}
			return math.MaxInt64 // never: otter keeps the deadline out of reach
		})
		opts.Clock = c
	}
	cache, err := otter.New(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", driver.ErrInvalidArgument, err)
	}
	s.cache = cache
	return s, nil
}

// deleted is told of every entry that leaves the cache, under the lock of
// its bucket: it keeps the cost count, and hands the evictions to the
// notifier.
func (s *store[V]) deleted(e otter.DeletionEvent[string, V]) {
	s.bytes.Add(-s.cost(e.Key, e.Value))
	switch e.Cause {
	case otter.CauseOverflow:
		s.notify.add(e.Key, false)
	case otter.CauseExpiration:
		s.notify.add(e.Key, true)
	}
}

// check reports an entry of cost bytes under key that is over the bounds
// on its own.
func (s *store[V]) check(key string, cost int64) error {
	if _, ok := s.lim.weight(cost); !ok {
		return fmt.Errorf("an entry of %d bytes under key %q, over Options.MaxBytes (%d): %w",
			cost, key, s.lim.maxBytes, driver.ErrValueTooLarge)
	}
	return nil
}

// put stores v, of cost bytes and checked, under key.
func (s *store[V]) put(key string, v V, cost int64) {
	s.bytes.Add(cost) // before the entry is visible: an eviction may follow at once
	s.cache.Set(key, v)
}

// tooLarge is the error of a multi write that left keys out for their
// size; nil for none.
func (s *store[V]) tooLarge(keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	return fmt.Errorf("entries under keys %q over Options.MaxBytes (%d): %w", keys, s.lim.maxBytes, driver.ErrValueTooLarge)
}

// ttlNow returns the time to live of writes now; zero for none.
func (s *store[V]) ttlNow() time.Duration {
	switch s.fixed {
	case NoTTL:
		return 0
	case 0:
		return s.derived.Load()
	}
	return s.fixed
}

func (s *store[V]) setRegionExpiration(d time.Duration) {
	if s.fixed == 0 {
		s.derived.Add(d)
	}
}
