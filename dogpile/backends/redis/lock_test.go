package redis_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// openLock returns a backend with the distributed lock on srv.
func openLock(t *testing.T, srv *testserver.Redis, kv ...any) *redis.Backend {
	t.Helper()
	b, err := redis.New(with(hostPort(t, srv.Addr), append([]any{"distributed_lock", true}, kv...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func acquire(t *testing.T, m dogpile.Mutex, wait, want bool) {
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
		kv := []any{"lock_timeout", 5}
		if c.prefix != "" {
			kv = append(kv, "lock_prefix", c.prefix)
		}
		b := openLock(t, srv, kv...)
		if got := b.LockKey("k1"); got != c.want {
			t.Errorf("LockKey(k1) = %q; want %q", got, c.want)
		}
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
	b := openLock(t, srv)
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
	b := openLock(t, srv, "lock_timeout", 0.3)

	holder, other := b.Mutex("k"), b.Mutex("k")
	acquire(t, holder, false, true)
	acquire(t, other, false, false)
	if err := other.Release(ctx); err == nil {
		t.Error("Release by a handle that does not hold the lock succeeded")
	}
	if raw.Exists(ctx, "_lockk").Val() != 1 {
		t.Fatal("another handle's Release deleted the holder's lock")
	}

	// The holder's lock expires and another takes it: the late Release
	// reports the loss and leaves the new holder's lock alone.
	time.Sleep(400 * time.Millisecond)
	acquire(t, other, false, true)
	token := raw.Get(ctx, "_lockk").Val()
	err := holder.Release(ctx)
	if !errors.Is(err, dogpile.ErrLockLost) || !strings.HasPrefix(err.Error(), "dogpile/redis: ") {
		t.Errorf("Release after expiry = %v; want a dogpile/redis error wrapping ErrLockLost", err)
	}
	if got := raw.Get(ctx, "_lockk").Val(); got != token {
		t.Errorf("after the late Release the lock holds %q; want the new holder's %q", got, token)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// Expired and nobody took it: lost too.
	acquire(t, holder, false, true)
	time.Sleep(400 * time.Millisecond)
	if err := holder.Release(ctx); !errors.Is(err, dogpile.ErrLockLost) {
		t.Errorf("Release after expiry = %v; want ErrLockLost", err)
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

// TestLockExpiredDuringCreation: a creator slower than lock_timeout still
// returns and stores its value; the lost lock is logged.
func TestLockExpiredDuringCreation(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	var logs syncBuffer
	r := region(t, time.Minute, redis.Name, with(hostPort(t, srv.Addr), "distributed_lock", true, "lock_timeout", 0.2),
		dogpile.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := context.Background()
	v, err := r.GetOrCreate(ctx, "slow", func(context.Context) (any, error) {
		time.Sleep(500 * time.Millisecond)
		return "created", nil
	})
	if err != nil || v != "created" {
		t.Fatalf("GetOrCreate = %v, %v; want the created value", v, err)
	}
	if v, ok, err := r.Get(ctx, "slow"); err != nil || !ok || v != "created" {
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
		b := openLock(t, srv, "lock_sleep", 0.02)
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
		b := openLock(t, srv, "lock_timeout", 0.5)
		acquire(t, b.Mutex("expired"), false, true) // never released
		start := time.Now()
		acquire(t, b.Mutex("expired"), true, true)
		if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
			t.Errorf("waited %v for a lock that expires after 500ms", d)
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		b := openLock(t, srv, "lock_sleep", 5) // the pause must not delay the return
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
		b := openLock(t, srv, "lock_blocking_timeout", 0.3, "lock_sleep", 0.05)
		acquire(t, b.Mutex("bt"), false, true)
		start := time.Now()
		got, err := b.Mutex("bt").Acquire(ctx, true)
		if d := time.Since(start); got || !errors.Is(err, redis.ErrLockTimeout) || d < 250*time.Millisecond || d > 2*time.Second {
			t.Errorf("Acquire = %v, %v after %v; want ErrLockTimeout after about 300ms", got, err, d)
		}
	})
	t.Run("not blocking", func(t *testing.T) {
		b := openLock(t, srv, "lock_blocking", false)
		acquire(t, b.Mutex("nb"), false, true)
		start := time.Now()
		got, err := b.Mutex("nb").Acquire(ctx, true)
		if d := time.Since(start); got || !errors.Is(err, redis.ErrLockTimeout) || d > time.Second {
			t.Errorf("Acquire(wait) with lock_blocking false = %v, %v after %v; want ErrLockTimeout at once", got, err, d)
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
	b := openLock(t, srv, "lock_prefix", "_lok.")
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
