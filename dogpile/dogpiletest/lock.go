package dogpiletest

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The backend's own lock (driver.Locker): dogpile.cache's mutex suite,
// and the lock as two regions sharing the backend see it, as two
// processes would.
var lockTests = []test{
	{"Mutex", anyKind, testLockMutex},
	{"MutexExcludes", anyKind, testLockMutexExcludes},
	{"MutexKeysIndependent", anyKind, testLockKeysIndependent},
	{"MutexAcquireContext", anyKind, testLockAcquireContext},
	{"KeyIsLocked", anyKind, testLockKeyIsLocked},
	{"KeyIsLockedAcrossRegions", anyKind, testLockKeyIsLockedAcrossRegions},
	{"OneCreatorAcrossRegions", anyKind, testLockOneCreatorAcrossRegions},
	{"StaleAcrossRegions", anyKind, testLockStaleAcrossRegions},
}

// mutex returns the backend's Mutex for a region key.
func (e *env) mutex(key string) driver.Mutex {
	e.t.Helper()
	m := e.locker.Mutex(e.backendKey(key))
	if m == nil {
		e.t.Fatalf("Mutex(%s) returned nil after returning a Mutex for another key", e.show(key))
	}
	return m
}

func (e *env) acquire(m driver.Mutex, wait, want bool, what string) {
	e.t.Helper()
	got, err := m.Acquire(e.ctx, wait)
	if err != nil || got != want {
		e.t.Fatalf("%s: Acquire(wait=%v) = %v, %v; want %v, nil", what, wait, got, err, want)
	}
}

func (e *env) release(m driver.Mutex, what string) {
	e.t.Helper()
	if err := m.Release(e.ctx); err != nil {
		e.t.Fatalf("%s: Release: %v", what, err)
	}
}

func (e *env) wantMutexLocked(m driver.Mutex, want bool, what string) {
	e.t.Helper()
	got, err := m.Locked(e.ctx)
	if err != nil || got != want {
		e.t.Errorf("%s: Locked = %v, %v; want %v", what, got, err, want)
	}
}

// testLockMutex is dogpile.cache's test_mutex, with a second Mutex value
// for the same key standing for another process.
func testLockMutex(e *env) {
	k := e.key("foo")
	m := e.mutex(k)
	e.wantMutexLocked(m, false, "a fresh lock")
	e.acquire(m, true, true, "the first acquire")
	m2 := e.mutex(k)
	e.acquire(m2, false, false, "another Mutex for the held key")
	e.acquire(m, false, false, "the holding Mutex again (locks are not re-entrant)")
	e.wantMutexLocked(m, true, "the holder")
	e.wantMutexLocked(m2, true, "another Mutex for the held key")
	e.release(m, "the holder")
	e.wantMutexLocked(m, false, "after the release")
	e.wantMutexLocked(m2, false, "another Mutex after the release")
	e.acquire(m, true, true, "acquiring again after the release")
	e.acquire(m2, false, false, "another Mutex for the held key")
	e.release(m, "the holder")
	e.acquire(m2, false, true, "another Mutex once the key is free")
	e.wantMutexLocked(m, true, "held by another Mutex")
	e.release(m2, "the second holder")
	e.wantMutexLocked(m, false, "after the second release")
}

// testLockMutexExcludes is dogpile.cache's test_mutex_threaded: 5
// goroutines × 5 acquisitions, each through a new Mutex for one key; at
// most one holder at any time.
func testLockMutexExcludes(e *env) {
	const goroutines, rounds = 5, 5
	k := e.backendKey(e.key("foo"))
	var holders, overlaps, acquired atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := range rounds {
				m := e.locker.Mutex(k)
				ok, err := m.Acquire(e.ctx, true)
				if err != nil || !ok {
					e.t.Errorf("goroutine %d, round %d: Acquire(wait) = %v, %v; want true", g, i, ok, err)
					return
				}
				acquired.Add(1)
				if holders.Add(1) != 1 {
					overlaps.Add(1)
				}
				for range 5 {
					runtime.Gosched()
					if holders.Load() != 1 {
						overlaps.Add(1)
					}
				}
				holders.Add(-1)
				if err := m.Release(e.ctx); err != nil {
					e.t.Errorf("goroutine %d, round %d: Release: %v", g, i, err)
					return
				}
			}
		})
	}
	close(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	wait(e, done, "the goroutines taking turns on the lock")
	if n := overlaps.Load(); n > 0 {
		e.t.Errorf("two Mutex values held one key at once (%d observations)", n)
	}
	if n := acquired.Load(); n != goroutines*rounds {
		e.t.Errorf("%d acquisitions; want %d", n, goroutines*rounds)
	}
}

// testLockKeysIndependent is dogpile.cache's
// test_mutex_reentrant_across_keys: holding one key never blocks another.
func testLockKeysIndependent(e *env) {
	foo, bar := e.key("foo"), e.key("bar")
	for range 3 {
		m1, m2 := e.mutex(foo), e.mutex(bar)
		e.acquire(m1, true, true, "foo")
		for range 2 {
			e.acquire(m2, false, true, "bar while foo is held")
			e.acquire(m2, false, false, "bar again (locks are not re-entrant)")
			e.acquire(e.mutex(bar), false, false, "another Mutex for the held bar")
			e.wantMutexLocked(m1, true, "foo")
			e.release(m2, "bar")
			e.wantMutexLocked(m2, false, "bar after its release")
		}
		e.release(m1, "foo")
	}
	e.wantMutexLocked(e.mutex(foo), false, "foo at the end")
}

// testLockAcquireContext: a waiting Acquire gives up when its context ends,
// reporting the context's error.
func testLockAcquireContext(e *env) {
	k := e.key("foo")
	m := e.mutex(k)
	e.acquire(m, true, true, "the holder")
	ctx, cancel := context.WithTimeout(e.ctx, 50*time.Millisecond)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		ok, err := e.mutex(k).Acquire(ctx, true)
		done <- result{ok, err}
	}()
	res := wait(e, done, "Acquire(wait) to give up when its context ends")
	if res.v != false || !errors.Is(res.err, context.DeadlineExceeded) {
		e.t.Errorf("Acquire(wait) of a held key under an ending context = %v, %v; want false and an error wrapping %v", res.v, res.err, context.DeadlineExceeded)
	}
	e.wantMutexLocked(m, true, "the holder after another's wait gave up")
	e.release(m, "the holder")
	m2 := e.mutex(k)
	e.acquire(m2, true, true, "after the holder's release")
	e.release(m2, "the second holder")
}

// testLockKeyIsLocked is the mutex part of dogpile.cache's
// test_region_is_key_locked: a key held through the backend's lock is
// locked for a region.
func testLockKeyIsLocked(e *env) {
	r := e.plainRegion()
	k := e.key("some_key")
	e.wantString(r, k, nil)
	for range 2 {
		e.wantLocked(r, k, false)
	}
	m := e.mutex(k)
	e.acquire(m, true, true, "the backend's lock")
	e.wantLocked(r, k, true)
	e.release(m, "the backend's lock")
	e.wantLocked(r, k, false)
}

// holdCreation starts a GetOrCreate on r whose creator is held until the
// returned release function is called; it returns once the creator runs.
func (e *env) holdCreation(r *dogpile.Region, key string, value any, calls *atomic.Int32) (release func() result) {
	e.t.Helper()
	entered, rel := make(chan struct{}), make(chan struct{})
	creator := e.heldCreator(value, calls, entered, rel)
	done := make(chan result, 1)
	go func() {
		v, err := dogpile.GetOrCreate(e.ctx, r, key, creator)
		done <- result{v, err}
	}()
	wait(e, entered, "the creator to start")
	return func() result {
		close(rel)
		return wait(e, done, "the creating caller to return")
	}
}

// testLockKeyIsLockedAcrossRegions: while one region creates a value, the
// key is locked for another region on the same backend.
func testLockKeyIsLockedAcrossRegions(e *env) {
	a, b := e.plainRegion(), e.plainRegion()
	k := e.key("some_key")
	e.wantLocked(b, k, false)
	var calls atomic.Int32
	release := e.holdCreation(a, k, "some value", &calls)
	e.wantLocked(b, k, true)
	e.wantLocked(b, e.key("other_key"), false)
	e.acquire(e.mutex(k), false, false, "the backend's lock during a creation")
	res := release()
	if res.err != nil || res.v != "some value" {
		e.t.Errorf("GetOrCreate = %#v, %v; want %q", res.v, res.err, "some value")
	}
	e.wantLocked(b, k, false)
	e.wantLocked(a, k, false)
}

// acquireSpy is the backend under test seen through a proxy that reports
// the first Acquire of its lock.
type acquireSpy struct {
	*driver.ProxyBackend
	once      sync.Once
	acquiring chan struct{}
}

func (s *acquireSpy) Mutex(key string) driver.Mutex {
	m := s.ProxyBackend.Mutex(key)
	if m == nil {
		return nil
	}
	return spyMutex{m, s}
}

type spyMutex struct {
	driver.Mutex
	s *acquireSpy
}

func (m spyMutex) Acquire(ctx context.Context, wait bool) (bool, error) {
	m.s.once.Do(func() { close(m.s.acquiring) })
	return m.Mutex.Acquire(ctx, wait)
}

// testLockOneCreatorAcrossRegions: a region that finds no value while
// another region creates it waits on the backend's lock and gets the
// other's value without creating.
func testLockOneCreatorAcrossRegions(e *env) {
	spy := &acquireSpy{ProxyBackend: &driver.ProxyBackend{Next: e.b}, acquiring: make(chan struct{})}
	a := e.plainRegion()
	b := e.regionOn(spy, dogpile.Config{})
	k := e.key("some_key")
	var callsA, callsB atomic.Int32
	release := e.holdCreation(a, k, "value of a", &callsA)

	done := make(chan result, 1)
	go func() {
		v, err := dogpile.GetOrCreate(e.ctx, b, k, func(context.Context) (any, error) {
			callsB.Add(1)
			return "value of b", nil
		})
		done <- result{v, err}
	}()
	// b found no value (a has stored nothing yet), so it waits on the
	// backend's lock.
	select {
	case <-spy.acquiring:
	case res := <-done:
		e.t.Fatalf("GetOrCreate in the second region returned %#v, %v while the first region's creation was held", res.v, res.err)
	case <-time.After(waitLimit):
		e.t.Fatalf("timed out waiting for the second region to take the backend's lock")
	}
	resA := release()
	if resA.err != nil || resA.v != "value of a" {
		e.t.Errorf("first region: GetOrCreate = %#v, %v; want %q", resA.v, resA.err, "value of a")
	}
	resB := wait(e, done, "the second region's GetOrCreate")
	if resB.err != nil || resB.v != "value of a" {
		e.t.Errorf("second region: GetOrCreate = %#v, %v; want the first region's %q", resB.v, resB.err, "value of a")
	}
	if n := callsB.Load(); n != 0 {
		e.t.Errorf("the second region's creator ran %d times; want never: the first region created the value", n)
	}
	e.wantString(b, k, ptr("value of a"))
}

// testLockStaleAcrossRegions: while one region regenerates an expired
// value, another region on the same backend gets the expired value at once
// instead of creating.
func testLockStaleAcrossRegions(e *env) {
	if e.opts.Evicts {
		e.t.Skip("the backend may evict the expired value this test serves")
	}
	clk := newClock()
	cfg := dogpile.Config{ExpirationTime: expiration}
	a := e.region(cfg, dogpile.WithClock(clk.Now))
	b := e.region(cfg, dogpile.WithClock(clk.Now))
	k := e.key("some_key")
	e.set(a, k, "old value")
	clk.Advance(2 * expiration)

	var callsA atomic.Int32
	release := e.holdCreation(a, k, "new value", &callsA)
	got, err := dogpile.GetOrCreate(e.ctx, b, k, func(context.Context) (any, error) { return nil, errNotCached })
	if err != nil || got != "old value" {
		e.t.Errorf("second region during the first's regeneration: GetOrCreate = %#v, %v; want the expired %q at once", got, err, "old value")
	}
	e.wantLocked(b, k, true)
	res := release()
	if res.err != nil || res.v != "new value" {
		e.t.Errorf("first region: GetOrCreate = %#v, %v; want %q", res.v, res.err, "new value")
	}
	got, err = dogpile.GetOrCreate(e.ctx, b, k, func(context.Context) (any, error) { return nil, errNotCached })
	if err != nil || got != "new value" {
		e.t.Errorf("second region after the regeneration: GetOrCreate = %#v, %v; want %q", got, err, "new value")
	}
}
