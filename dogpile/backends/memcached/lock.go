package memcached

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The distributed dogpile lock (dogpile.cache's MemcachedLock), used with
// Options.DistributedLock (distributed_lock).
//
//   - The lock for a key is the memcached item "_lock" + key (mangled as a
//     whole when it is not a valid memcached key), taken with add, which
//     only one client can win. Python's MemcachedLock uses the same key and
//     only checks that add succeeded, so Go and Python processes exclude
//     each other.
//   - The item always has a TTL: Options.LockTimeout (DefaultLockTimeout
//     when it is 0) rounded up, plus one second for memcached's clock.
//     A holder that dies leaves a lock that expires on its own, unlike
//     Python's, which without lock_timeout lives for ever.
//   - The item's value is a random token of the acquisition. Release reads
//     the item with gets and, when the token is its own, replaces it with
//     cas and an expiry in the past, which memcached treats as a delete:
//     compare and delete in one atomic step. A lock that expired, or that
//     another client took after it expired, is left alone and reported as
//     driver.ErrLockLost.
//   - A blocking Acquire polls with add, sleeping between attempts with a
//     jittered exponential backoff from 10 ms up to 500 ms. It gives up
//     when its context ends (the context's error) or after the lock's TTL
//     and one more poll (driver.ErrLockTimeout): by then a lock held when
//     the wait began has expired, so only other processes taking it again
//     and again can make a wait fail.

// DefaultLockTimeout is how long a lock lives when Options.LockTimeout is
// zero, so that a holder that dies never blocks its key for ever.
const DefaultLockTimeout = 30 * time.Second

// lockPrefix is prepended to a key to name its lock, as in dogpile.cache.
const lockPrefix = "_lock"

// The backoff of a blocking Acquire.
const (
	lockPollMin = 10 * time.Millisecond
	lockPollMax = 500 * time.Millisecond
)

// Mutex returns the distributed lock for key, or nil without
// Options.DistributedLock: the region then uses its in-process lock.
func (b *Backend) Mutex(key string) driver.Mutex {
	if !b.lockEnabled {
		return nil
	}
	lk, err := b.storedKey(lockPrefix + key)
	return &mutex{b: b, key: key, lockKey: lk, keyErr: err}
}

// mutex is the lock of one key. It is not re-entrant: Acquire on a mutex
// that holds its lock fails like any other.
type mutex struct {
	b       *Backend
	key     string // the data key, for messages
	lockKey string // the stored lock key
	keyErr  error  // the lock key is refused (Options.RefuseInvalidKeys)

	mu    sync.Mutex
	token string // the held acquisition's token; "" when not held
}

func (m *mutex) Acquire(ctx context.Context, wait bool) (bool, error) {
	if m.keyErr != nil {
		return false, m.keyErr
	}
	if err := ctx.Err(); err != nil {
		return false, m.err("acquire", err)
	}
	token := rand.Text()
	ok, err := m.b.tryLock(m.lockKey, token)
	if err != nil || ok || !wait {
		return m.acquired(token, ok, err)
	}
	deadline := time.Now().Add(m.b.lockWait)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for delay := lockPollMin; ; delay = min(2*delay, lockPollMax) {
		left := time.Until(deadline)
		if left <= 0 {
			return false, m.err("acquire", fmt.Errorf("%w after %v", driver.ErrLockTimeout, m.b.lockWait))
		}
		sleep := delay/2 + mrand.N(delay/2+1) // jittered: [delay/2, delay]
		timer.Reset(min(sleep, left))
		select {
		case <-ctx.Done():
			return false, m.err("waiting for", ctx.Err())
		case <-timer.C:
		}
		ok, err := m.b.tryLock(m.lockKey, token)
		if err != nil || ok {
			return m.acquired(token, ok, err)
		}
	}
}

func (m *mutex) acquired(token string, ok bool, err error) (bool, error) {
	if err != nil {
		return false, m.err("acquire", err)
	}
	if ok {
		m.mu.Lock()
		m.token = token
		m.mu.Unlock()
	}
	return ok, nil
}

func (m *mutex) Release(ctx context.Context) error {
	m.mu.Lock()
	token := m.token
	m.token = ""
	m.mu.Unlock()
	if token == "" {
		return m.err("release", errors.New("not held by this Mutex"))
	}
	if err := ctx.Err(); err != nil {
		return m.err("release", err)
	}
	lost, err := m.b.unlock(m.lockKey, token)
	if err != nil {
		return m.err("release", err)
	}
	if lost {
		return m.err("release", driver.ErrLockLost)
	}
	return nil
}

func (m *mutex) Locked(ctx context.Context) (bool, error) {
	if m.keyErr != nil {
		return false, m.keyErr
	}
	if err := ctx.Err(); err != nil {
		return false, m.err("check", err)
	}
	_, err := m.b.client.Get(m.lockKey)
	if m.b.staleConn(err) {
		_, err = m.b.client.Get(m.lockKey)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	}
	return false, m.err("check", err)
}

func (m *mutex) err(op string, err error) error {
	return fmt.Errorf("%s lock for %s: %w", op, showKey(m.key), err)
}

// tryLock adds the lock item with token as its value, reporting whether
// this call created it.
func (b *Backend) tryLock(lk, token string) (bool, error) {
	it := &memcache.Item{Key: lk, Value: []byte(token), Expiration: expirationField(b.lockTTL, time.Now())}
	err := b.client.Add(it)
	if b.staleConn(err) {
		err = b.client.Add(it)
		if errors.Is(err, memcache.ErrNotStored) {
			// The first add may have reached the server before its
			// connection failed: the lock is ours if it holds our token.
			if cur, gerr := b.client.Get(lk); gerr == nil && string(cur.Value) == token {
				return true, nil
			}
		}
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrNotStored):
		return false, nil
	}
	return false, err
}

// unlock deletes the lock item if it still holds token, atomically: gets,
// then cas with an expiry in the past. lost reports a lock that expired or
// that another client holds now; it is left alone.
func (b *Backend) unlock(lk, token string) (lost bool, err error) {
	it, err := b.client.Get(lk)
	if b.staleConn(err) {
		it, err = b.client.Get(lk)
	}
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return true, nil
	case err != nil:
		return false, err
	case string(it.Value) != token:
		return true, nil
	}
	it.Value = nil
	it.Expiration = -1 // in the past: memcached drops the item at once
	err = b.client.CompareAndSwap(it)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return true, nil // it changed hands between gets and cas
	}
	return false, err
}
