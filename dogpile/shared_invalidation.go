package dogpile

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// SharedInvalidation keeps a region's invalidation times in its backend, so
// that Invalidate in one process retires values in every process whose
// regions use the same backend and Key (dogpile.cache issues #138, #196).
// Hard and soft invalidation times are kept under two keys, Key+":hard"
// and Key+":soft", and read back in one call.
//
// Reads never wait for the backend: each process keeps the last times it
// read and refreshes them in the background once they are older than
// Refresh, so an invalidation made elsewhere applies here within Refresh
// plus one round trip. Invalidate applies in its own process at once. Times
// come from each process's clock, so clocks must agree to within the
// precision invalidation needs.
//
// Set it as Config.Invalidator; the region gives it its backend when it is
// configured. A SharedInvalidation serves one region.
type SharedInvalidation struct {
	// Key names the shared times; regions that share it invalidate
	// together. Empty means "_dogpile_invalidation:" plus the region's name.
	Key string
	// Refresh is how old the times may be before a read refreshes them; 0
	// means one second.
	Refresh time.Duration
	// Timeout bounds each background read; 0 means five seconds.
	Timeout time.Duration

	r          *Region
	st         *regionState
	times      atomic.Pointer[sharedTimes]
	refreshing atomic.Bool
	mu         sync.Mutex // serialises Invalidate
}

type sharedTimes struct {
	hard, soft int64 // unix nanoseconds; 0 for none
	read       int64 // when they were read, unix nanoseconds
}

// sharedPayload is what is stored under each key.
type sharedPayload struct {
	At int64 `json:"at"` // unix nanoseconds
}

func (s *SharedInvalidation) bind(r *Region, st *regionState) error {
	if s.r != nil && s.r != r {
		return fmt.Errorf("%w: a SharedInvalidation serves one region", ErrInvalidArgument)
	}
	s.r, s.st = r, st
	if s.Key == "" {
		s.Key = "_dogpile_invalidation:" + r.name
	}
	s.times.Store(nil) // read again from the (new) backend
	return nil
}

func (s *SharedInvalidation) keys() []string {
	return []string{s.r.mangle(s.Key + ":hard"), s.r.mangle(s.Key + ":soft")}
}

// current returns the times, refreshing them in the background when stale.
// The first call of a process reads them in the foreground.
func (s *SharedInvalidation) current() *sharedTimes {
	t := s.times.Load()
	if s.r == nil {
		return &sharedTimes{}
	}
	if t == nil {
		s.refresh()
		if t = s.times.Load(); t == nil {
			return &sharedTimes{}
		}
		return t
	}
	refresh := s.Refresh
	if refresh <= 0 {
		refresh = time.Second
	}
	if s.r.nanotime()-t.read > int64(refresh) && s.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer s.refreshing.Store(false)
			s.refresh()
		}()
	}
	return t
}

// refresh reads both times in one backend call. A failed read keeps the
// times known so far and is logged.
func (s *SharedInvalidation) refresh() {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cvs, err := s.r.loadMulti(ctx, s.st, s.keys())
	if err != nil {
		s.r.logger.Warn("dogpile: reading shared invalidation times", "region", s.r.name, "err", err)
		return
	}
	next := &sharedTimes{read: s.r.nanotime()}
	for i, cv := range cvs {
		if cv.IsZero() {
			continue
		}
		p, err := decodeAs[sharedPayload](s.r, cv)
		if err != nil {
			s.r.logger.Warn("dogpile: undecodable shared invalidation time", "region", s.r.name, "err", err)
			continue
		}
		if i == 0 {
			next.hard = p.At
		} else {
			next.soft = p.At
		}
	}
	// Never go back on a local Invalidate the backend has not shown yet.
	if old := s.times.Load(); old != nil {
		next.hard, next.soft = max(next.hard, old.hard), max(next.soft, old.soft)
	}
	s.times.Store(next)
}

// Invalidate records now as the hard or soft invalidation time, in the
// backend and in this process.
func (s *SharedInvalidation) Invalidate(ctx context.Context, hard bool) error {
	if s.r == nil {
		return fmt.Errorf("%w: SharedInvalidation used before its region was configured", ErrNotConfigured)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.r.now()
	i := 1
	if hard {
		i = 0
	}
	if _, err := s.r.store(ctx, s.st, s.keys()[i], NewCachedValue(sharedPayload{At: now.UnixNano()}, now)); err != nil {
		return fmt.Errorf("dogpile: storing the invalidation time: %w", err)
	}
	old := s.current()
	next := *old
	if hard {
		next.hard = now.UnixNano()
	} else {
		next.soft = now.UnixNano()
	}
	s.times.Store(&next)
	return nil
}

// IsInvalidated reports whether a value created at t was invalidated.
func (s *SharedInvalidation) IsInvalidated(t time.Time) bool {
	c := s.current()
	n := t.UnixNano()
	return n < c.hard || n < c.soft
}

// IsHardInvalidated reports whether t precedes the last hard invalidation.
func (s *SharedInvalidation) IsHardInvalidated(t time.Time) bool {
	return t.UnixNano() < s.current().hard
}

// IsSoftInvalidated reports whether t precedes the last soft invalidation
// and not the last hard one.
func (s *SharedInvalidation) IsSoftInvalidated(t time.Time) bool {
	c := s.current()
	n := t.UnixNano()
	return n < c.soft && n >= c.hard
}

// WasHardInvalidated reports whether the latest invalidation was hard.
func (s *SharedInvalidation) WasHardInvalidated() bool {
	c := s.current()
	return c.hard != 0 && c.hard >= c.soft
}

// WasSoftInvalidated reports whether the latest invalidation was soft.
func (s *SharedInvalidation) WasSoftInvalidated() bool {
	c := s.current()
	return c.soft != 0 && c.soft > c.hard
}
