package memory

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// BytesBackend is dogpile.cache.memory_pickle: a driver.BytesBackend that
// keeps entries as bytes in the wire format, encoded by the region's
// codec, in a bounded cache like Backend's. It is slower than Backend, but
// values are copies, as with a remote backend. An entry costs the length
// of its key and bytes. Make one with NewBytes; a BytesBackend is safe for
// concurrent use.
type BytesBackend struct {
	s *store[[]byte]
}

var (
	_ driver.BytesBackend    = (*BytesBackend)(nil)
	_ driver.ExpirationAware = (*BytesBackend)(nil)
	_ driver.Evicter         = (*BytesBackend)(nil)
)

// NewBytes returns an empty BytesBackend with the bounds and time to live
// of opts, which must not set Cost. Options that cannot be taken are an
// error wrapping driver.ErrInvalidArgument that names the field.
func NewBytes(opts Options) (*BytesBackend, error) {
	b, err := newBytesBackend(opts, clock)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return b, nil
}

// newBytesBackend is NewBytes on clock c, without the package's prefix on
// errors.
func newBytesBackend(opts Options, c otter.Clock) (*BytesBackend, error) {
	if opts.Cost != nil {
		return nil, fmt.Errorf("%w: Options.Cost is set, want nil: the entries of a BytesBackend cost their length",
			driver.ErrInvalidArgument)
	}
	s, err := newStore(opts, func(key string, v []byte) int64 { return int64(len(key) + len(v)) }, c)
	if err != nil {
		return nil, err
	}
	return &BytesBackend{s: s}, nil
}

// GetBytes returns the entry under key. The region must not modify it.
func (b *BytesBackend) GetBytes(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := b.s.cache.GetIfPresent(key)
	return v, ok, nil
}

// GetBytesMulti returns the entries under keys; nil for a miss.
func (b *BytesBackend) GetBytesMulti(_ context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if v, ok := b.s.cache.GetIfPresent(k); ok {
			out[i] = v
		}
	}
	return out, nil
}

// SetBytes stores a copy of value under key. An entry over
// Options.MaxBytes is not stored: SetBytes returns an error wrapping
// driver.ErrValueTooLarge, and the entry stored before under key, if any,
// stays.
func (b *BytesBackend) SetBytes(_ context.Context, key string, value []byte) error {
	cost := int64(len(key) + len(value))
	if err := b.s.check(key, cost); err != nil {
		return err
	}
	b.s.put(key, clone(value), cost)
	return nil
}

// SetBytesMulti stores a copy of every item. Items over the bounds on
// their own are left out and reported in one error wrapping
// driver.ErrValueTooLarge; the others are stored.
func (b *BytesBackend) SetBytesMulti(_ context.Context, items []driver.BytesItem) error {
	var tooLarge []string
	for _, it := range items {
		cost := int64(len(it.Key) + len(it.Value))
		if b.s.check(it.Key, cost) != nil {
			tooLarge = append(tooLarge, it.Key)
			continue
		}
		b.s.put(it.Key, clone(it.Value), cost)
	}
	return b.s.tooLarge(tooLarge)
}

// clone copies v; an empty entry stays a non-nil empty slice, which is a
// hit, not a miss.
func clone(v []byte) []byte { return append(make([]byte, 0, len(v)), v...) }

// Delete removes key.
func (b *BytesBackend) Delete(_ context.Context, key string) error {
	b.s.cache.Invalidate(key)
	return nil
}

// DeleteMulti removes keys.
func (b *BytesBackend) DeleteMulti(_ context.Context, keys []string) error {
	for _, k := range keys {
		b.s.cache.Invalidate(k)
	}
	return nil
}

// Len returns the number of entries stored. It may count entries that
// have expired and are not yet removed.
func (b *BytesBackend) Len() int { return b.s.cache.EstimatedSize() }

// All returns the entries stored, by key, in no particular order, as
// Backend.All does. The entries must not be modified.
func (b *BytesBackend) All() iter.Seq2[string, []byte] { return b.s.cache.All() }

// Bytes returns the sum of the lengths of the keys and entries stored: at
// most Options.MaxBytes once the cache's pending work is done. It may
// count entries that have expired and are not yet removed.
func (b *BytesBackend) Bytes() int64 { return b.s.bytes.Load() }

// TTL returns the time to live writes give entries now, as Backend.TTL
// does.
func (b *BytesBackend) TTL() time.Duration { return b.s.ttlNow() }

// SetRegionExpiration derives the time to live from the region's
// expiration time d, as Backend.SetRegionExpiration does.
func (b *BytesBackend) SetRegionExpiration(d time.Duration) { b.s.setRegionExpiration(d) }

// NotifyEvictions makes the backend call f with the key of every entry it
// drops on its own, as Backend.NotifyEvictions does.
func (b *BytesBackend) NotifyEvictions(f func(key string, expired bool)) { b.s.notify.set(f) }
