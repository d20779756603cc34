package memory

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The default bounds, used when Options leave them zero. See the package
// documentation for why these numbers.
const (
	// DefaultMaxEntries bounds the number of entries.
	DefaultMaxEntries = 100_000
	// DefaultMaxBytes bounds the bytes of the entries: 256 MiB.
	DefaultMaxBytes = 256 << 20
)

// Time to live.
const (
	// DefaultTTLFactor is the time to live of an entry, as a multiple of
	// the region's expiration time, when Options.TTL is zero: an expired
	// value stays readable for as long again, so that callers are served
	// it while one of them regenerates it.
	DefaultTTLFactor = driver.DefaultTTLFactor
	// NoTTL, as Options.TTL, gives entries no time to live: they leave
	// only to stay within the bounds, or when deleted.
	NoTTL time.Duration = -1
)

// Options are the settings New and NewBytes take. The zero Options are a
// backend of DefaultMaxEntries entries and DefaultMaxBytes bytes whose
// entries live for DefaultTTLFactor times the region's expiration time.
type Options struct {
	// MaxEntries bounds the number of entries (max_size). Zero means
	// DefaultMaxEntries; more than math.MaxUint32 counts as that many.
	MaxEntries int

	// MaxBytes bounds the sum of the entries' costs, keys included
	// (max_bytes). Zero means DefaultMaxBytes. An entry that costs more
	// than MaxBytes is not stored: writes report it with an error
	// wrapping driver.ErrValueTooLarge.
	MaxBytes int64

	// TTL is how long an entry stays after it was written
	// (memory_expiration_time). Zero, the default, derives it from the
	// region: DefaultTTLFactor times the region's expiration time, and
	// none for a region whose values never expire. NoTTL sets none.
	TTL time.Duration

	// Cost returns the cost of a value, in bytes, for MaxBytes; the key's
	// length is added to it. Nil means EstimateCost. New only: the
	// entries of NewBytes cost their length. Cost runs on the writer's
	// goroutine, before the entry is stored; it must not return a
	// negative number.
	Cost func(value any) int64
}

// validate reports the first field the backends cannot take.
func (o Options) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: Options.%s is %v, want %s", driver.ErrInvalidArgument, field, v, want)
	}
	switch {
	case o.MaxEntries < 0:
		return bad("MaxEntries", o.MaxEntries, "a positive number of entries, or 0 for DefaultMaxEntries")
	case o.MaxBytes < 0:
		return bad("MaxBytes", o.MaxBytes, "a positive number of bytes, or 0 for DefaultMaxBytes")
	case o.TTL < 0 && o.TTL != NoTTL:
		return bad("TTL", o.TTL, "a positive duration, 0 to derive it from the region, or NoTTL")
	}
	return nil
}

// limits turns the two bounds into otter's single one. An entry weighs
// the larger of two shares of the cache's maxWeight: its cost's share of
// MaxBytes, and one MaxEntries-th (minWeight, with maxWeight a multiple of
// it). A cache within maxWeight then holds at most MaxEntries entries and
// at most MaxBytes bytes, and holds exactly MaxEntries entries of the
// least weight. maxWeight is as large as otter's uint32 weights allow, so
// that rounding a cost's share up loses little.
type limits struct {
	maxEntries int
	maxBytes   int64
	maxWeight  uint64 // minWeight × maxEntries, at most math.MaxUint32
	minWeight  uint64
}

// maxEntriesCounted bounds the MaxEntries the weights can tell apart:
// with more, the bound on entries is this one.
const maxEntriesCounted = math.MaxUint32

func newLimits(o Options) limits {
	l := limits{maxEntries: o.MaxEntries, maxBytes: o.MaxBytes}
	if l.maxEntries == 0 {
		l.maxEntries = DefaultMaxEntries
	}
	if l.maxBytes == 0 {
		l.maxBytes = DefaultMaxBytes
	}
	n := min(uint64(l.maxEntries), maxEntriesCounted)
	l.minWeight = math.MaxUint32 / n
	l.maxWeight = l.minWeight * n
	return l
}

// weight returns the weight of an entry of cost bytes, and false when it
// is over MaxBytes on its own.
func (l *limits) weight(cost int64) (uint32, bool) {
	if cost > l.maxBytes {
		return 0, false
	}
	// cost × maxWeight / maxBytes, rounded up: cost ≤ maxBytes keeps the
	// high word below the divisor, and the result within maxWeight.
	hi, lo := bits.Mul64(uint64(max(cost, 0)), l.maxWeight)
	w, rem := bits.Div64(hi, lo, uint64(l.maxBytes))
	if rem != 0 {
		w++
	}
	return uint32(max(w, l.minWeight)), true
}

// Backend is dogpile.cache.memory: a driver.ValueBackend that keeps Go
// values as they are, with no encoding and no copy, in a bounded cache
// that drops entries on its own to stay within its bounds and once they
// outlive their time to live. It is a driver.ExpirationAware and a
// driver.Evicter. Make one with New; a Backend is safe for concurrent use.
type Backend struct {
	s    *store[entry]
	cost func(any) int64 // Options.Cost; nil for EstimateCost
}

var (
	_ driver.ValueBackend    = (*Backend)(nil)
	_ driver.ExpirationAware = (*Backend)(nil)
	_ driver.Evicter         = (*Backend)(nil)
)

// New returns an empty Backend with the bounds and time to live of opts.
// Options that cannot be taken are an error wrapping
// driver.ErrInvalidArgument that names the field.
func New(opts Options) (*Backend, error) {
	b, err := newBackend(opts, clock)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return b, nil
}

// newBackend is New on clock c, without the package's prefix on errors,
// for the factory, whose errors driver.Open names.
func newBackend(opts Options, c otter.Clock) (*Backend, error) {
	s, err := newStore(opts, entryCost, c)
	if err != nil {
		return nil, err
	}
	return &Backend{s: s, cost: opts.Cost}, nil
}

// entry is a value as the Backend holds it: a CachedValue of the region's
// version whose creation time is a number of nanoseconds and whose
// payload's cost follows from the payload (strings, byte slices, numbers,
// booleans) takes 24 bytes; any other is a *boxed.
type entry struct {
	v  any   // the payload, or a *boxed
	ct int64 // the creation time in unix nanoseconds, when v is no *boxed
}

// boxed is a CachedValue kept exactly as it was given, with its cost.
type boxed struct {
	cv   driver.CachedValue
	cost int64
}

// entryCost is the cost of an entry under key.
func entryCost(key string, e entry) int64 {
	if b, ok := e.v.(*boxed); ok {
		return int64(len(key)) + b.cost
	}
	c, _ := inlineCost(e.v)
	return int64(len(key)) + c
}

// value returns the CachedValue e holds.
func (e entry) value() driver.CachedValue {
	if b, ok := e.v.(*boxed); ok {
		return b.cv
	}
	return driver.CachedValue{Payload: e.v, Metadata: driver.Metadata{CreatedAt: time.Unix(0, e.ct), Version: driver.ValueVersion}}
}

// pack returns the entry of cv under key, with its cost.
func (b *Backend) pack(key string, cv driver.CachedValue) (entry, int64, error) {
	if b.cost != nil {
		c := b.cost(cv.Payload)
		if c < 0 {
			return entry{}, 0, fmt.Errorf("%w: Options.Cost returned %d for the value of key %q, want 0 or more",
				driver.ErrInvalidArgument, c, key)
		}
		return entry{v: &boxed{cv: cv, cost: c}}, int64(len(key)) + c, nil
	}
	ct := cv.Metadata.CreatedAt
	ns := ct.UnixNano()
	if c, ok := inlineCost(cv.Payload); ok && cv.Metadata.Version == driver.ValueVersion && time.Unix(0, ns).Equal(ct) {
		return entry{v: cv.Payload, ct: ns}, int64(len(key)) + c, nil
	}
	c := EstimateCost(cv.Payload)
	return entry{v: &boxed{cv: cv, cost: c}}, int64(len(key)) + c, nil
}

// Get returns the value under key.
func (b *Backend) Get(_ context.Context, key string) (driver.CachedValue, bool, error) {
	e, ok := b.s.cache.GetIfPresent(key)
	if !ok {
		return driver.CachedValue{}, false, nil
	}
	return e.value(), true, nil
}

// GetMulti returns the values under keys; the zero CachedValue for a miss.
func (b *Backend) GetMulti(_ context.Context, keys []string) ([]driver.CachedValue, error) {
	out := make([]driver.CachedValue, len(keys))
	for i, k := range keys {
		if e, ok := b.s.cache.GetIfPresent(k); ok {
			out[i] = e.value()
		}
	}
	return out, nil
}

// Set stores value under key. A value whose entry costs more than
// Options.MaxBytes is not stored: Set returns an error wrapping
// driver.ErrValueTooLarge, and the value stored before under key, if any,
// stays.
func (b *Backend) Set(_ context.Context, key string, value driver.CachedValue) error {
	e, cost, err := b.pack(key, value)
	if err != nil {
		return err
	}
	if err := b.s.check(key, cost); err != nil {
		return err
	}
	b.s.put(key, e, cost)
	return nil
}

// SetMulti stores every item. Items over the bounds on their own are left
// out and reported in one error wrapping driver.ErrValueTooLarge; the
// others are stored. A negative cost from Options.Cost stops it at that
// item with an error.
func (b *Backend) SetMulti(_ context.Context, items []driver.Item) error {
	var tooLarge []string
	for _, it := range items {
		e, cost, err := b.pack(it.Key, it.Value)
		if err != nil {
			return err
		}
		if b.s.check(it.Key, cost) != nil {
			tooLarge = append(tooLarge, it.Key)
			continue
		}
		b.s.put(it.Key, e, cost)
	}
	return b.s.tooLarge(tooLarge)
}

// Delete removes key.
func (b *Backend) Delete(_ context.Context, key string) error {
	b.s.cache.Invalidate(key)
	return nil
}

// DeleteMulti removes keys.
func (b *Backend) DeleteMulti(_ context.Context, keys []string) error {
	for _, k := range keys {
		b.s.cache.Invalidate(k)
	}
	return nil
}

// Len returns the number of entries stored. It may count entries that
// have expired and are not yet removed.
func (b *Backend) Len() int { return b.s.cache.EstimatedSize() }

// All returns the entries stored, by key, in no particular order, for
// inspection (what dogpile.cache's cache_dict was used for). Entries
// written, dropped or expired while it runs may or may not be seen.
func (b *Backend) All() iter.Seq2[string, driver.CachedValue] {
	return func(yield func(string, driver.CachedValue) bool) {
		for k, e := range b.s.cache.All() {
			if !yield(k, e.value()) {
				return
			}
		}
	}
}

// Bytes returns the sum of the costs of the entries stored, keys
// included: at most Options.MaxBytes once the cache's pending work is
// done. It may count entries that have expired and are not yet removed.
func (b *Backend) Bytes() int64 { return b.s.bytes.Load() }

// TTL returns the time to live writes give entries now: Options.TTL when
// it is fixed, otherwise DefaultTTLFactor times the expiration time of the
// regions configured with the backend (see SetRegionExpiration); zero for
// none.
func (b *Backend) TTL() time.Duration { return b.s.ttlNow() }

// SetRegionExpiration derives the time to live from the region's
// expiration time d (zero: never), unless Options.TTL is fixed. Regions
// call it when they are configured; when one Backend serves several
// regions, the longest time to live wins, and none when one of them never
// expires (driver.DerivedTTL). Entries written before keep the time to
// live they were written with.
func (b *Backend) SetRegionExpiration(d time.Duration) { b.s.setRegionExpiration(d) }

// NotifyEvictions makes the backend call f with the key of every entry it
// drops on its own: expired true for an entry that outlived its time to
// live, false for one dropped to stay within the bounds. Deletes and
// overwrites are not reported. f runs on a goroutine of the backend's, one
// call at a time, in the order the entries were dropped, never while the
// backend holds a lock: f may use the backend.
func (b *Backend) NotifyEvictions(f func(key string, expired bool)) { b.s.notify.set(f) }
