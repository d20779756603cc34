package redis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// openLock returns a backend with the distributed lock and opts on srv,
// on a client of its own closed when the test ends.
func openLock(t *testing.T, srv *testserver.Redis, opts redis.Options) *redis.Backend {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	opts.DistributedLock = true
	b, err := redis.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func acquire(t *testing.T, m driver.Mutex, wait, want bool) {
	t.Helper()
	got, err := m.Acquire(context.Background(), wait)
	if err != nil || got != want {
		t.Fatalf("Acquire(wait=%v) = %v, %v; want %v", wait, got, err, want)
	}
}

func TestLockKeyAndTTL(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	for _, c := range []struct {
		prefix, want string
	}{{"", "_lockk1"}, {"_lok.", "_lok.k1"}} {
		b := openLock(t, srv, redis.Options{LockTimeout: 5 * time.Second, LockPrefix: c.prefix})
		m := b.Mutex("k1")
		acquire(t, m, false, true)
		token, err := raw.Get(ctx, c.want).Result()
		if err != nil || len(token) < 16 {
			t.Errorf("GET %s = %q, %v; want a random token", c.want, token, err)
		}
		wantPTTL(t, raw, 5*time.Second, c.want)
		m2 := b.Mutex("k1")
		acquire(t, m2, false, false)
		if err := m.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if n := raw.Exists(ctx, c.want).Val(); n != 0 {
			t.Errorf("%s still exists after the release", c.want)
		}
		// Another handle's token differs.
		acquire(t, m2, false, true)
		if token2 := raw.Get(ctx, c.want).Val(); token2 == token || token2 == "" {
			t.Errorf("the second handle's token %q; want one different from %q", token2, token)
		}
		if err := m2.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The default TTL.
	b := openLock(t, srv, redis.Options{})
	m := b.Mutex("k2")
	acquire(t, m, false, true)
	wantPTTL(t, raw, redis.DefaultLockTimeout, "_lockk2")
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLockReleaseOnlyByHolder(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	b := openLock(t, srv, redis.Options{})

	holder, other := b.Mutex("k"), b.Mutex("k")
	acquire(t, holder, false, true)
	acquire(t, other, false, false)
	if err := other.Release(ctx); err == nil {
		t.Error("Release by a handle that does not hold the lock succeeded")
	}
	if raw.Exists(ctx, "_lockk").Val() != 1 {
		t.Fatal("another handle's Release deleted the holder's lock")
	}

	// The holder's lock expires (its key is removed, as its TTL would)
	// and another takes it: the late Release reports the loss and leaves
	// the new holder's lock alone.
	if err := raw.Del(ctx, "_lockk").Err(); err != nil {
		t.Fatal(err)
	}
	acquire(t, other, false, true)
	token := raw.Get(ctx, "_lockk").Val()
	err := holder.Release(ctx)
	const lost = `release of lock "_lockk": lock expired before release`
	if !errors.Is(err, driver.ErrLockLost) || err.Error() != lost {
		t.Errorf("Release after expiry = %v; want %q, wrapping driver.ErrLockLost", err, lost)
	}
	if got := raw.Get(ctx, "_lockk").Val(); got != token {
		t.Errorf("after the late Release the lock holds %q; want the new holder's %q", got, token)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// Expired and nobody took it: lost too.
	acquire(t, holder, false, true)
	if err := raw.Del(ctx, "_lockk").Err(); err != nil {
		t.Fatal(err)
	}
	if err := holder.Release(ctx); !errors.Is(err, driver.ErrLockLost) {
		t.Errorf("Release after expiry = %v; want ErrLockLost", err)
	}

	// A lock that really expires, by its TTL on the server.
	short := openLock(t, srv, redis.Options{LockTimeout: 50 * time.Millisecond})
	m := short.Mutex("ttl")
	acquire(t, m, false, true)
	wantPTTL(t, raw, 50*time.Millisecond, "_lockttl")
	deadline := time.Now().Add(5 * time.Second)
	for raw.Exists(ctx, "_lockttl").Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the lock did not expire")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := m.Release(ctx); !errors.Is(err, driver.ErrLockLost) {
		t.Errorf("Release after the TTL = %v; want ErrLockLost", err)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLockExpiredDuringCreation: a creator that outlives its lock (whose
// key it removes, as the lock's TTL would) still returns and stores its
// value; the lost lock is logged.
func TestLockExpiredDuringCreation(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	var logs syncBuffer
	r := region(t, time.Minute, redis.Name, with(hostPort(t, srv.Addr), "distributed_lock", true, "lock_timeout", 0.2),
		dogpile.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := context.Background()
	v, err := dogpile.GetOrCreate(ctx, r, "slow", func(ctx context.Context) (string, error) {
		if n, err := raw.Del(ctx, "_lockslow").Result(); err != nil || n != 1 {
			return "", fmt.Errorf("DEL of the creation's lock = %d, %v; want it held", n, err)
		}
		return "created", nil
	})
	if err != nil || v != "created" {
		t.Fatalf("GetOrCreate = %v, %v; want the created value", v, err)
	}
	if v, ok, err := dogpile.Get[string](ctx, r, "slow"); err != nil || !ok || v != "created" {
		t.Errorf("Get after the creation = %v, %v, %v; want it stored", v, ok, err)
	}
	if !strings.Contains(logs.String(), "lock expired before release") {
		t.Errorf("the lost lock was not logged; logs:\n%s", logs.String())
	}
}

func TestLockWait(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	ctx := context.Background()

	t.Run("released", func(t *testing.T) {
		b := openLock(t, srv, redis.Options{LockSleep: 20 * time.Millisecond})
		holder := b.Mutex("released")
		acquire(t, holder, false, true)
		time.AfterFunc(150*time.Millisecond, func() { _ = holder.Release(ctx) })
		start := time.Now()
		acquire(t, b.Mutex("released"), true, true)
		if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
			t.Errorf("waited %v for a lock released after 150ms", d)
		}
	})
	t.Run("expired holder", func(t *testing.T) {
		b := openLock(t, srv, redis.Options{LockTimeout: 500 * time.Millisecond})
		acquire(t, b.Mutex("expired"), false, true) // never released
		start := time.Now()
		acquire(t, b.Mutex("expired"), true, true)
		if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
			t.Errorf("waited %v for a lock that expires after 500ms", d)
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		b := openLock(t, srv, redis.Options{LockSleep: 5 * time.Second}) // the pause must not delay the return
		acquire(t, b.Mutex("cancel"), false, true)
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		got, err := b.Mutex("cancel").Acquire(cctx, true)
		if d := time.Since(start); got || !errors.Is(err, context.Canceled) || d > time.Second {
			t.Errorf("Acquire under a context canceled after 100ms = %v, %v after %v; want false, context.Canceled, promptly", got, err, d)
		}
	})
	t.Run("blocking timeout", func(t *testing.T) {
		b := openLock(t, srv, redis.Options{LockBlockingTimeout: 300 * time.Millisecond, LockSleep: 50 * time.Millisecond})
		acquire(t, b.Mutex("bt"), false, true)
		start := time.Now()
		got, err := b.Mutex("bt").Acquire(ctx, true)
		if d := time.Since(start); got || !errors.Is(err, driver.ErrLockTimeout) || d < 250*time.Millisecond || d > 2*time.Second {
			t.Errorf("Acquire = %v, %v after %v; want ErrLockTimeout after about 300ms", got, err, d)
		}
	})
	t.Run("not blocking", func(t *testing.T) {
		b := openLock(t, srv, redis.Options{LockNonBlocking: true})
		acquire(t, b.Mutex("nb"), false, true)
		start := time.Now()
		got, err := b.Mutex("nb").Acquire(ctx, true)
		if d := time.Since(start); got || !errors.Is(err, driver.ErrLockTimeout) || d > time.Second {
			t.Errorf("Acquire(wait) with LockNonBlocking = %v, %v after %v; want ErrLockTimeout at once", got, err, d)
		}
		acquire(t, b.Mutex("nb-free"), true, true)
	})
}

// TestLockKeyIsLocked: KeyIsLocked sees a lock held by another process
// (here, a Mutex taken directly).
func TestLockKeyIsLocked(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	args := with(hostPort(t, srv.Addr), "distributed_lock", true, "lock_prefix", "_lok.")
	r := region(t, time.Minute, redis.Name, args)
	b := openLock(t, srv, redis.Options{LockPrefix: "_lok."})
	ctx := context.Background()
	m := b.Mutex("k")
	acquire(t, m, false, true)
	if locked, err := r.KeyIsLocked(ctx, "k"); err != nil || !locked {
		t.Errorf("KeyIsLocked = %v, %v; want true", locked, err)
	}
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if locked, err := r.KeyIsLocked(ctx, "k"); err != nil || locked {
		t.Errorf("KeyIsLocked after the release = %v, %v; want false", locked, err)
	}
}
