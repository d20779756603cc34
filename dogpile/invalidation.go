package dogpile

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// InvalidationStrategy decides which values Region.Invalidate retires
// (dogpile.cache's RegionInvalidationStrategy, narrowed to what a region
// calls). Hard invalidation makes older values absent; soft invalidation
// makes them stale, served while one caller regenerates each.
type InvalidationStrategy interface {
	// Bind is called when the strategy's region is configured, before the
	// region uses it, and again when the region is reconfigured. A
	// strategy that keeps its state in the region's backend reaches it
	// through the region.
	Bind(r *Region) error
	// Invalidate retires every value created before at.
	Invalidate(ctx context.Context, at time.Time, hard bool) error
	// Invalidated reports whether a value created at created is retired,
	// and whether hard. It runs on every read and must be cheap: a
	// strategy that keeps its state elsewhere refreshes it in the
	// background.
	Invalidated(created time.Time) (retired, hard bool)
}

// localInvalidation is the default strategy: the time and kind of the
// last invalidation, kept in this process (dogpile.cache's
// DefaultInvalidationStrategy).
type localInvalidation struct {
	last atomic.Pointer[invalidation]
}

type invalidation struct {
	at   time.Time
	hard bool
}

func (*localInvalidation) Bind(*Region) error { return nil }

func (s *localInvalidation) Invalidate(_ context.Context, at time.Time, hard bool) error {
	s.last.Store(&invalidation{at: at, hard: hard})
	return nil
}

func (s *localInvalidation) Invalidated(created time.Time) (retired, hard bool) {
	inv := s.last.Load()
	if inv == nil || !created.Before(inv.at) {
		return false, false
	}
	return true, inv.hard
}

// SharedInvalidation keeps a region's invalidation times in its backend,
// so that Invalidate in one process retires values in every process whose
// regions use the same backend and Key (dogpile.cache issues #138, #196).
// The hard and soft invalidation times are kept under two keys,
// Key+":hard" and Key+":soft" (mangled as every key of the region), and
// read back in one call.
//
// Reads never wait for the backend: each process keeps the times it read
// last and refreshes them in the background once they are older than
// Refresh, so an invalidation made elsewhere applies here within Refresh
// plus one round trip; the first read of a process fetches them in the
// foreground. Invalidate applies in its own process at once. Times come
// from each process's clock, so clocks must agree to within the precision
// invalidation needs.
//
// Set it as Config.Invalidator. A SharedInvalidation serves one region.
type SharedInvalidation struct {
	// Key names the shared times; regions that share it invalidate
	// together. Empty means "_dogpile_invalidation:" plus the region's
	// name.
	Key string
	// Refresh is how old the times may be before a read refreshes them;
	// zero means one second.
	Refresh time.Duration
	// Timeout bounds each background read; zero means five seconds.
	Timeout time.Duration

	r          *Region
	key        string
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

// Bind attaches s to r; binding s to a second region is an error.
func (s *SharedInvalidation) Bind(r *Region) error {
	if s.Refresh < 0 || s.Timeout < 0 {
		return fmt.Errorf("%w: SharedInvalidation: negative Refresh or Timeout", ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r != nil && s.r != r {
		return fmt.Errorf("%w: SharedInvalidation: one serves one region, and this one serves %q", ErrInvalidArgument, s.r.s.name)
	}
	s.r = r
	s.key = s.Key
	if s.key == "" {
		s.key = "_dogpile_invalidation:" + r.s.name
	}
	s.times.Store(nil) // read again from the (new) backend
	return nil
}

func (s *SharedInvalidation) keys() []string {
	return []string{s.r.mangle(s.key + ":hard"), s.r.mangle(s.key + ":soft")}
}

// current returns the times, refreshing them in the background when they
// are old.
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
	if refresh == 0 {
		refresh = time.Second
	}
	if s.r.s.nanotime()-t.read > int64(refresh) && s.refreshing.CompareAndSwap(false, true) {
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
	st := s.r.state.Load()
	if st == nil {
		return
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	es, err := st.loadAll(ctx, s.keys(), false)
	if err != nil {
		s.r.s.logger.Warn("dogpile: reading shared invalidation times", "region", s.r.s.name, "err", err)
		return
	}
	next := &sharedTimes{read: s.r.s.nanotime()}
	for i, e := range es {
		if !present(&e) {
			continue
		}
		p, err := decodeAs[sharedPayload](s.r.s.codec, &e)
		if err != nil {
			s.r.s.logger.Warn("dogpile: undecodable shared invalidation time", "region", s.r.s.name, "err", err)
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

// Invalidate records at as the hard or soft invalidation time, in the
// backend and in this process.
func (s *SharedInvalidation) Invalidate(ctx context.Context, at time.Time, hard bool) error {
	if s.r == nil {
		return fmt.Errorf("%w: SharedInvalidation used before its region was configured", ErrNotConfigured)
	}
	st := s.r.state.Load()
	if st == nil {
		return ErrNotConfigured
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 1
	if hard {
		i = 0
	}
	if _, err := st.save(ctx, s.keys()[i], newEntry(sharedPayload{At: at.UnixNano()}, at)); err != nil {
		return fmt.Errorf("storing the invalidation time: %w", backendError(st, err))
	}
	next := *s.current()
	if hard {
		next.hard = at.UnixNano()
	} else {
		next.soft = at.UnixNano()
	}
	s.times.Store(&next)
	return nil
}

// Invalidated reports whether a value created at created precedes the
// last hard or soft invalidation; hard wins when it precedes both.
func (s *SharedInvalidation) Invalidated(created time.Time) (retired, hard bool) {
	c := s.current()
	n := created.UnixNano()
	switch {
	case n < c.hard:
		return true, true
	case n < c.soft:
		return true, false
	}
	return false, false
}
