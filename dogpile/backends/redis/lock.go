package redis

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Lock defaults. Every lock has a time to live, so a holder that dies
// (a killed process, a lost connection) frees its key after LockTimeout
// at the latest (dogpile.cache issues #261 and #271).
const (
	// DefaultLockPrefix is put in front of a key to name its lock, as
	// dogpile.cache does: the lock of "k1" is "_lockk1".
	DefaultLockPrefix = "_lock"
	// DefaultLockTimeout is the lock's time to live when
	// Options.LockTimeout is zero.
	DefaultLockTimeout = 30 * time.Second
	// DefaultLockSleep is the first pause of a waiting Acquire between two
	// attempts when Options.LockSleep is zero; pauses double up to
	// MaxLockSleep, with jitter.
	DefaultLockSleep = 100 * time.Millisecond
	// MaxLockSleep caps the pause between two attempts of a waiting
	// Acquire, unless Options.LockSleep is longer.
	MaxLockSleep = time.Second
)

// lockConfig is the distributed lock's settings, defaults applied.
type lockConfig struct {
	prefix          string
	timeout         time.Duration // the lock's TTL
	sleep           time.Duration // the first pause between attempts
	blocking        bool
	blockingTimeout time.Duration // how long a waiting Acquire tries
}

// newLockConfig applies the defaults to validated options.
func newLockConfig(o Options) *lockConfig {
	c := &lockConfig{
		prefix:   cmp.Or(o.LockPrefix, DefaultLockPrefix),
		timeout:  cmp.Or(o.LockTimeout, DefaultLockTimeout),
		sleep:    cmp.Or(o.LockSleep, DefaultLockSleep),
		blocking: !o.LockNonBlocking,
	}
	// By default a waiter outlasts a held lock by one polling pause, so
	// its last attempt comes after the lock's TTL ran out.
	c.blockingTimeout = cmp.Or(o.LockBlockingTimeout, c.timeout+max(MaxLockSleep, c.sleep))
	return c
}

// releaseScript deletes the lock only when it still holds the caller's
// token, so that a holder whose lock expired never deletes another's.
var releaseScript = goredis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then
	return redis.call("del", KEYS[1])
end
return 0`)

// Mutex returns the distributed lock of key with Options.DistributedLock,
// and nil otherwise (regions then use their in-process lock alone). The
// lock is the Redis key LockPrefix+key holding a random token, taken with
// SET NX PX LockTimeout and released by a script that deletes it only
// while it holds that token, as Python's redis-py Lock does, so Go and
// Python processes exclude each other.
//
// Each call returns a new handle with its own token. A handle serves one
// Acquire and Release at a time, which may run on different goroutines.
func (b *Backend) Mutex(key string) driver.Mutex {
	if b.lock == nil {
		return nil
	}
	return &mutex{b: b, key: b.lock.prefix + key}
}

// mutex is one handle on a distributed lock.
type mutex struct {
	b   *Backend
	key string // the lock's Redis key

	mu    sync.Mutex
	token string // made at the first Acquire
	held  bool
}

// Acquire takes the lock: one SET NX PX without wait, or with wait and
// LockNonBlocking (an error wrapping driver.ErrLockTimeout when the lock
// is held); otherwise attempts separated by pauses growing from LockSleep
// to MaxLockSleep, until the lock is taken, ctx ends (its error is
// returned) or LockBlockingTimeout passes (driver.ErrLockTimeout).
func (m *mutex) Acquire(ctx context.Context, wait bool) (bool, error) {
	cfg := m.b.lock
	m.mu.Lock()
	if m.token == "" {
		m.token = rand.Text()
	}
	token := m.token
	m.mu.Unlock()

	got, err := m.try(ctx, token)
	if err != nil || got || !wait {
		return got, err
	}
	if !cfg.blocking {
		return false, fmt.Errorf("lock %q is held elsewhere, and this backend does not wait for locks: %w", m.key, driver.ErrLockTimeout)
	}
	deadline := time.Now().Add(cfg.blockingTimeout)
	limit := max(MaxLockSleep, cfg.sleep)
	var timer *time.Timer
	for pause := cfg.sleep; ; pause = min(pause*2, limit) {
		left := time.Until(deadline)
		if left <= 0 {
			return false, fmt.Errorf("lock %q not acquired within %v: %w", m.key, cfg.blockingTimeout, driver.ErrLockTimeout)
		}
		// The last pause ends at the deadline, for one more attempt.
		if d := min(jitter(pause), left); timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("waiting for lock %q: %w", m.key, ctx.Err())
		case <-timer.C:
		}
		if got, err := m.try(ctx, token); err != nil || got {
			return got, err
		}
	}
}

// jitter returns a pause between d/2 and d, so that waiters started
// together do not poll together.
func jitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d/2 + mrand.N(d/2+1)
}

// try makes one attempt, bounded by CallTimeout: SET key token NX PX
// LockTimeout.
func (m *mutex) try(ctx context.Context, token string) (bool, error) {
	bctx, cancel := m.b.bounded(ctx)
	defer cancel()
	cmd := goredis.NewStatusCmd(bctx, "set", m.key, token, "px", ttlMillis(m.b.lock.timeout), "nx")
	err := m.b.client.Process(bctx, cmd)
	switch {
	case err == nil:
		m.mu.Lock()
		m.held = true
		m.mu.Unlock()
		return true, nil
	case err == goredis.Nil: // NX: the key exists
		return false, nil
	case ctx.Err() != nil:
		return false, fmt.Errorf("lock %q: %w", m.key, ctx.Err())
	}
	return false, fmt.Errorf("lock %q: %w", m.key, m.b.failed("SET NX", ctx, bctx, err))
}

// Release deletes the lock if it still holds this handle's token. A lock
// that expired first (its key gone, or taken by another holder since) is
// left alone and reported with an error wrapping driver.ErrLockLost.
func (m *mutex) Release(ctx context.Context) error {
	m.mu.Lock()
	held, token := m.held, m.token
	m.held = false
	m.mu.Unlock()
	if !held {
		return fmt.Errorf("release of lock %q, which this handle does not hold", m.key)
	}
	bctx, cancel := m.b.bounded(ctx)
	defer cancel()
	n, err := releaseScript.Run(bctx, m.b.client, []string{m.key}, token).Int64()
	if err != nil {
		return fmt.Errorf("release of lock %q: %w", m.key, m.b.failed("EVALSHA", ctx, bctx, err))
	}
	if n == 0 {
		return fmt.Errorf("release of lock %q: %w", m.key, driver.ErrLockLost)
	}
	return nil
}

// Locked reports whether anyone holds the lock: EXISTS.
func (m *mutex) Locked(ctx context.Context) (bool, error) {
	bctx, cancel := m.b.bounded(ctx)
	defer cancel()
	n, err := m.b.client.Exists(bctx, m.key).Result()
	if err != nil {
		return false, fmt.Errorf("lock %q: %w", m.key, m.b.failed("EXISTS", ctx, bctx, err))
	}
	return n > 0, nil
}
