package dogpile

import (
	"context"
	"sync/atomic"
	"time"
)

// InvalidationStrategy decides which values a region-wide invalidation
// retires (dogpile.cache's RegionInvalidationStrategy). Hard invalidation
// makes older values absent; soft invalidation makes them expired, so they
// are served while one caller regenerates. The Is methods run on every read
// and must be cheap; strategies that keep their state elsewhere should
// refresh it in the background.
type InvalidationStrategy interface {
	// Invalidate retires every value created before now.
	Invalidate(ctx context.Context, hard bool) error
	// IsInvalidated reports whether a value created at t was invalidated.
	IsInvalidated(t time.Time) bool
	// IsHardInvalidated reports whether a value created at t was hard
	// invalidated.
	IsHardInvalidated(t time.Time) bool
	// IsSoftInvalidated reports whether a value created at t was soft
	// invalidated.
	IsSoftInvalidated(t time.Time) bool
	// WasHardInvalidated reports whether the last invalidation was hard.
	WasHardInvalidated() bool
	// WasSoftInvalidated reports whether the last invalidation was soft.
	WasSoftInvalidated() bool
}

// LocalInvalidation is the default strategy: the time and kind of the last
// invalidation, kept in this process (dogpile.cache's
// DefaultInvalidationStrategy). Its zero value is ready to use.
type LocalInvalidation struct {
	// Now is the clock; nil means time.Now.
	Now   func() time.Time
	state atomic.Pointer[invalidation]
}

type invalidation struct {
	at   time.Time
	hard bool
}

// Invalidate records now as the invalidation time.
func (s *LocalInvalidation) Invalidate(_ context.Context, hard bool) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	s.state.Store(&invalidation{at: now(), hard: hard})
	return nil
}

// IsInvalidated reports whether t is strictly before the last invalidation.
func (s *LocalInvalidation) IsInvalidated(t time.Time) bool {
	inv := s.state.Load()
	return inv != nil && t.Before(inv.at)
}

// IsHardInvalidated reports whether t precedes a hard invalidation.
func (s *LocalInvalidation) IsHardInvalidated(t time.Time) bool {
	inv := s.state.Load()
	return inv != nil && inv.hard && t.Before(inv.at)
}

// IsSoftInvalidated reports whether t precedes a soft invalidation.
func (s *LocalInvalidation) IsSoftInvalidated(t time.Time) bool {
	inv := s.state.Load()
	return inv != nil && !inv.hard && t.Before(inv.at)
}

// WasHardInvalidated reports whether the last invalidation was hard.
func (s *LocalInvalidation) WasHardInvalidated() bool {
	inv := s.state.Load()
	return inv != nil && inv.hard
}

// WasSoftInvalidated reports whether the last invalidation was soft.
func (s *LocalInvalidation) WasSoftInvalidated() bool {
	inv := s.state.Load()
	return inv != nil && !inv.hard
}
