package memcached

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// TestLock checks the distributed lock on the server, with two backends
// standing for two processes.
func TestLock(t *testing.T) {
	t.Parallel()
	m := testserver.StartMemcached(t)
	ctx := context.Background()
	raw := rawClient(t, m.Addr)
	lockArgs := func(timeout any) driver.Arguments {
		return driver.Arguments{"url": m.Addr, "distributed_lock": true, "lock_timeout": timeout}
	}

	t.Run("Held", func(t *testing.T) {
		a, b := open(t, lockArgs(5)), open(t, lockArgs(5))
		key := keyPrefix(t) + "k"
		ma, mb := a.Mutex(key), b.Mutex(key)
		if ok, err := ma.Acquire(ctx, true); !ok || err != nil {
			t.Fatalf("Acquire = %v, %v", ok, err)
		}
		it, err := raw.Get("_lock" + key)
		if err != nil || len(it.Value) < 16 || it.Flags != 0 {
			t.Fatalf("while held: _lock item %v, %v; want one holding a random token", it, err)
		}
		if ttl, ok := remainingTTL(t, m.Addr, "_lock"+key); !ok || ttl < 5 || ttl > 6 {
			t.Errorf("lock TTL %d; want 6 (lock_timeout 5 + 1)", ttl)
		}
		if ok, err := mb.Acquire(ctx, false); ok || err != nil {
			t.Errorf("another process: Acquire(no wait) = %v, %v; want false", ok, err)
		}
		if locked, err := mb.Locked(ctx); !locked || err != nil {
			t.Errorf("another process: Locked = %v, %v; want true", locked, err)
		}
		if err := ma.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Get("_lock" + key); !errors.Is(err, memcache.ErrCacheMiss) {
			t.Errorf("after Release: _lock item: %v; want none", err)
		}
		if locked, err := mb.Locked(ctx); locked || err != nil {
			t.Errorf("after Release: Locked = %v, %v; want false", locked, err)
		}
		if ok, err := mb.Acquire(ctx, false); !ok || err != nil {
			t.Errorf("another process after Release: Acquire = %v, %v; want true", ok, err)
		}
		if err := mb.Release(ctx); err != nil {
			t.Error(err)
		}
		if err := mb.Release(ctx); err == nil || errors.Is(err, driver.ErrLockLost) {
			t.Errorf("Release of a lock not held: %v; want an error other than ErrLockLost", err)
		}
	})

	t.Run("PythonHolder", func(t *testing.T) {
		// Python's MemcachedLock adds "1" and deletes it to release.
		b := open(t, lockArgs(5))
		key := keyPrefix(t) + "k"
		if err := raw.Add(&memcache.Item{Key: "_lock" + key, Value: []byte("1"), Expiration: 5}); err != nil {
			t.Fatal(err)
		}
		mu := b.Mutex(key)
		if ok, err := mu.Acquire(ctx, false); ok || err != nil {
			t.Errorf("Acquire while Python holds the lock = %v, %v; want false", ok, err)
		}
		if locked, err := mu.Locked(ctx); !locked || err != nil {
			t.Errorf("Locked while Python holds the lock = %v, %v; want true", locked, err)
		}
		if err := raw.Delete("_lock" + key); err != nil {
			t.Fatal(err)
		}
		if ok, err := mu.Acquire(ctx, false); !ok || err != nil {
			t.Errorf("Acquire after Python's release = %v, %v; want true", ok, err)
		}
		_ = mu.Release(ctx)
	})

	t.Run("ExpiredHolder", func(t *testing.T) {
		t.Parallel()
		a, b := open(t, lockArgs(1)), open(t, lockArgs(1))
		key := keyPrefix(t) + "k"
		dead := a.Mutex(key) // a holder that never releases in time
		if ok, err := dead.Acquire(ctx, false); !ok || err != nil {
			t.Fatalf("Acquire = %v, %v", ok, err)
		}
		start := time.Now()
		next := b.Mutex(key)
		if ok, err := next.Acquire(ctx, true); !ok || err != nil {
			t.Fatalf("waiting for an abandoned lock: Acquire = %v, %v after %v; want true once it expires", ok, err, time.Since(start))
		}
		within(t, "waiting for a lock with lock_timeout 1", time.Since(start), 3*time.Second)
		// The first holder's late release must not free the new holder's lock.
		if err := dead.Release(ctx); !errors.Is(err, driver.ErrLockLost) {
			t.Errorf("late Release: %v; want driver.ErrLockLost", err)
		}
		if locked, err := b.Mutex(key).Locked(ctx); !locked || err != nil {
			t.Errorf("the new holder's lock after the old holder's late release: Locked = %v, %v; want true", locked, err)
		}
		if err := next.Release(ctx); err != nil {
			t.Errorf("the new holder's Release: %v", err)
		}
	})

	t.Run("ExpiredBeforeRelease", func(t *testing.T) {
		t.Parallel()
		b := open(t, lockArgs(1))
		key := keyPrefix(t) + "k"
		mu := b.Mutex(key)
		if ok, err := mu.Acquire(ctx, false); !ok || err != nil {
			t.Fatalf("Acquire = %v, %v", ok, err)
		}
		time.Sleep(2500 * time.Millisecond) // the lock lives at most 2 s
		if err := mu.Release(ctx); !errors.Is(err, driver.ErrLockLost) {
			t.Errorf("Release of an expired lock: %v; want driver.ErrLockLost", err)
		}
	})

	t.Run("WaitBound", func(t *testing.T) {
		t.Parallel()
		holder, waiter := open(t, lockArgs(10)), open(t, lockArgs(1))
		key := keyPrefix(t) + "k"
		h := holder.Mutex(key)
		if ok, err := h.Acquire(ctx, false); !ok || err != nil {
			t.Fatalf("Acquire = %v, %v", ok, err)
		}
		defer h.Release(ctx)
		start := time.Now()
		ok, err := waiter.Mutex(key).Acquire(ctx, true)
		if ok || !errors.Is(err, driver.ErrLockTimeout) {
			t.Errorf("waiting past the bound: Acquire = %v, %v; want false and driver.ErrLockTimeout", ok, err)
		}
		if d := time.Since(start); d < 2500*time.Millisecond || d > 3500*time.Millisecond {
			t.Errorf("gave up after %v; want after the lock's 2 s lifetime and a 500 ms poll", d)
		}
	})

	t.Run("ContextCancel", func(t *testing.T) {
		a, b := open(t, lockArgs(5)), open(t, lockArgs(5))
		key := keyPrefix(t) + "k"
		h := a.Mutex(key)
		if ok, err := h.Acquire(ctx, false); !ok || err != nil {
			t.Fatalf("Acquire = %v, %v", ok, err)
		}
		defer h.Release(ctx)
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		ok, err := b.Mutex(key).Acquire(cctx, true)
		if ok || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), `waiting for lock for "`+key+`": `) {
			t.Errorf("Acquire under a cancelled context = %v, %v; want false and context.Canceled", ok, err)
		}
		within(t, "Acquire after its context was cancelled at 300 ms", time.Since(start), 800*time.Millisecond)
		if ok, err := b.Mutex(key).Acquire(cctx, false); ok || !errors.Is(err, context.Canceled) {
			t.Errorf("Acquire with a cancelled context = %v, %v; want context.Canceled", ok, err)
		}
	})

	t.Run("Region", func(t *testing.T) {
		// A region's creation holds the lock; a region of another
		// process sees the key locked.
		a, b := open(t, lockArgs(5)), open(t, lockArgs(5))
		ra, rb := region(t, a, time.Hour), region(t, b, time.Hour)
		key := keyPrefix(t) + "k"
		entered, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := dogpile.GetOrCreate(ctx, ra, key, func(context.Context) (string, error) {
				close(entered)
				<-release
				return "v", nil
			})
			done <- err
		}()
		<-entered
		if locked, err := rb.KeyIsLocked(ctx, key); !locked || err != nil {
			t.Errorf("KeyIsLocked from another process during the creation = %v, %v", locked, err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if locked, err := rb.KeyIsLocked(ctx, key); locked || err != nil {
			t.Errorf("KeyIsLocked after the creation = %v, %v", locked, err)
		}
	})
}
