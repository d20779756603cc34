package memcached

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// NoServerTTL, as Options.ServerTTL, stores values without a server-side
// time to live (memcached_expire_time 0): they stay until memcached evicts
// them.
const NoServerTTL time.Duration = -1

// Options configure a Backend. The zero Options are the defaults: a
// server-side TTL derived from the region's expiration, the region's
// in-process dogpile lock, and invalid keys stored under a hash.
type Options struct {
	// ServerTTL is the time to live memcached gives each value
	// (dogpile.cache's memcached_expire_time), rounded up to whole
	// seconds. Zero derives it from the expiration time of the region
	// the backend is configured in: twice that, plus one second, so that
	// an expired value stays readable to be served while one caller
	// regenerates it; a region that never expires stores values without
	// one. NoServerTTL stores values without one whatever the region.
	// Other negative durations are an error.
	ServerTTL time.Duration
	// DistributedLock makes the dogpile lock span processes and
	// machines through memcached (dogpile.cache's distributed_lock);
	// otherwise Mutex returns nil and regions use their in-process lock.
	DistributedLock bool
	// LockTimeout is how long a distributed lock lives at most, so that
	// a holder that dies does not block its key for ever (dogpile.cache's
	// lock_timeout): zero means DefaultLockTimeout; negative is an error.
	LockTimeout time.Duration
	// RefuseInvalidKeys makes keys memcached would refuse (see ValidKey)
	// an error wrapping driver.ErrInvalidArgument, sent nowhere, instead
	// of storing them under MangleKey(key).
	RefuseInvalidKeys bool
}

// validate reports the first field that cannot take its value.
func (o Options) validate() error {
	switch {
	case o.ServerTTL < 0 && o.ServerTTL != NoServerTTL:
		return fmt.Errorf("%w: Options.ServerTTL is %v, want a positive duration, zero (derived from the region) or NoServerTTL",
			driver.ErrInvalidArgument, o.ServerTTL)
	case o.LockTimeout < 0:
		return fmt.Errorf("%w: Options.LockTimeout is %v, want a positive duration or zero (DefaultLockTimeout)",
			driver.ErrInvalidArgument, o.LockTimeout)
	}
	return nil
}

// Backend is a driver.BytesBackend on one or more memcached servers. It
// stores the region's wire format as raw bytes with item flags 0, so
// Python's memcached clients read the same entries as bytes. It is also a
// driver.Locker (a distributed lock, with Options.DistributedLock), a
// driver.ExpirationAware and an io.Closer. It is safe for concurrent use.
//
// Operations check their context before they start; once sent, an
// operation is bounded by the client's Timeout, since the memcache client
// takes no context.
type Backend struct {
	client      *memcache.Client
	ownsClient  bool // built by a registered factory: Close closes it
	mangleKeys  bool
	lockEnabled bool
	lockTTL     int64         // seconds, the lock's server-side TTL
	lockWait    time.Duration // how long a blocking Acquire waits at most: lockTTL and a poll

	// ttl is the server-side TTL of values in seconds: 0 for none, -1
	// until a region reports its expiration (none meanwhile).
	ttl      atomic.Int64
	ttlFixed bool // Options.ServerTTL was not zero
}

var (
	_ driver.BytesBackend    = (*Backend)(nil)
	_ driver.Locker          = (*Backend)(nil)
	_ driver.ExpirationAware = (*Backend)(nil)
	_ io.Closer              = (*Backend)(nil)
)

// New returns a backend storing its entries through client, which the
// caller builds (servers, Timeout, MaxIdleConns, DialContext for TLS) and
// keeps: Close leaves it open. It does not connect. The memcache client
// keeps 2 idle connections per server by default, which makes concurrent
// callers dial for most operations; the registered factories set 16.
// Options that cannot take their values are an error wrapping
// driver.ErrInvalidArgument.
func New(client *memcache.Client, opts Options) (*Backend, error) {
	b, err := newBackend(client, opts)
	if err != nil {
		return nil, fmt.Errorf("memcached: %w", err)
	}
	return b, nil
}

func newBackend(client *memcache.Client, opts Options) (*Backend, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil *memcache.Client", driver.ErrInvalidArgument)
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	b := &Backend{client: client, mangleKeys: !opts.RefuseInvalidKeys, lockEnabled: opts.DistributedLock}
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = DefaultLockTimeout
	}
	b.lockTTL = lockTTL(timeout)
	b.lockWait = lockPollMax + time.Duration(min(b.lockTTL, math.MaxInt64/int64(time.Second)-1))*time.Second
	switch b.ttlFixed = opts.ServerTTL != 0; {
	case opts.ServerTTL == NoServerTTL:
		b.ttl.Store(0)
	case b.ttlFixed:
		b.ttl.Store(ceilSeconds(opts.ServerTTL))
	default:
		b.ttl.Store(-1)
	}
	return b, nil
}

// Client returns the memcache client the backend uses. Keys given to it
// directly are sent as they are, without this package's mangling.
func (b *Backend) Client() *memcache.Client { return b.client }

// StoredKey returns the key memcached stores key under: key itself when it
// is a valid memcached key, MangleKey(key) otherwise; with
// Options.RefuseInvalidKeys, an invalid key is an error wrapping
// driver.ErrInvalidArgument.
func (b *Backend) StoredKey(key string) (string, error) { return b.storedKey(key) }

// TTL returns the server-side time to live given to values now: zero for
// none. It is Options.ServerTTL when that is set, and otherwise derived
// from the region's expiration (see SetRegionExpiration).
func (b *Backend) TTL() time.Duration {
	return time.Duration(max(b.ttl.Load(), 0)) * time.Second
}

// SetRegionExpiration derives the server-side TTL of values from the
// expiration time of a region using the backend, unless Options.ServerTTL
// is set: twice d rounded up to whole seconds, plus one second, so expired
// values stay readable for the dogpile lock to serve them stale while one
// caller regenerates. A region that never expires (d == 0) leaves values
// without a TTL. When several regions share the backend, the longest TTL
// wins, and none when one of them never expires. Regions call it when
// they are configured.
func (b *Backend) SetRegionExpiration(d time.Duration) {
	if b.ttlFixed {
		return
	}
	next := derivedTTL(d)
	for {
		cur := b.ttl.Load()
		want := next
		switch {
		case cur < 0:
		case cur == 0 || next == 0:
			want = 0
		default:
			want = max(cur, next)
		}
		if b.ttl.CompareAndSwap(cur, want) {
			return
		}
	}
}

// expiration is the exptime field for a value stored now.
func (b *Backend) expiration() int32 {
	s := b.ttl.Load()
	if s > maxRelativeExpiration {
		return expirationField(s, time.Now())
	}
	return expirationField(s, time.Time{})
}

// GetBytes returns the bytes stored under key, and false when there are
// none.
func (b *Backend) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, opError("get", key, err)
	}
	sk, err := b.storedKey(key)
	if err != nil {
		return nil, false, err
	}
	it, err := b.client.Get(sk)
	if b.staleConn(err) {
		it, err = b.client.Get(sk)
	}
	switch {
	case err == nil:
		return it.Value, true, nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return nil, false, nil
	}
	return nil, false, opError("get", key, err)
}

// GetBytesMulti returns one entry per key, in order, nil for a miss, in
// one request per server (memcached's multi-key get).
func (b *Backend) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, opErrorN("get_multi", keys, err)
	}
	stored, err := b.storedKeys(keys)
	if err != nil {
		return nil, err
	}
	items, err := b.client.GetMulti(stored)
	if b.staleConn(err) {
		items, err = b.client.GetMulti(stored)
	}
	if err != nil {
		return nil, opErrorN("get_multi", keys, err)
	}
	out := make([][]byte, len(keys))
	for i, sk := range stored {
		if it := items[sk]; it != nil {
			out[i] = it.Value
		}
	}
	return out, nil
}

// SetBytes stores value under key with the backend's TTL.
func (b *Backend) SetBytes(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return opError("set", key, err)
	}
	sk, err := b.storedKey(key)
	if err != nil {
		return err
	}
	return b.set(key, sk, value)
}

func (b *Backend) set(key, sk string, value []byte) error {
	it := &memcache.Item{Key: sk, Value: value, Expiration: b.expiration()}
	err := b.client.Set(it)
	if b.staleConn(err) {
		err = b.client.Set(it)
	}
	if err != nil {
		return opError("set", key, err)
	}
	return nil
}

// SetBytesMulti stores every item. memcached's text protocol has no
// multi-key set: the items are stored one after the other, and the first
// failure ends the call. No item is sent when one of the keys is refused.
func (b *Backend) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
	if len(items) == 0 {
		return nil
	}
	stored := make([]string, len(items))
	for i, it := range items {
		sk, err := b.storedKey(it.Key)
		if err != nil {
			return err
		}
		stored[i] = sk
	}
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return opError("set", it.Key, err)
		}
		if err := b.set(it.Key, stored[i], it.Value); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return opError("delete", key, err)
	}
	sk, err := b.storedKey(key)
	if err != nil {
		return err
	}
	return b.delete(key, sk)
}

func (b *Backend) delete(key, sk string) error {
	err := b.client.Delete(sk)
	if b.staleConn(err) {
		err = b.client.Delete(sk)
	}
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return opError("delete", key, err)
	}
	return nil
}

// DeleteMulti removes every key, one delete after the other (memcached has
// no multi-key delete); missing keys are not an error, and the first
// failure ends the call. No key is sent when one of them is refused.
func (b *Backend) DeleteMulti(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	stored, err := b.storedKeys(keys)
	if err != nil {
		return err
	}
	for i, sk := range stored {
		if err := ctx.Err(); err != nil {
			return opError("delete", keys[i], err)
		}
		if err := b.delete(keys[i], sk); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the idle connections of a client that a registered factory
// built; a client given to New belongs to the caller and is left alone.
// The backend may still be used after Close: it dials again.
func (b *Backend) Close() error {
	if !b.ownsClient {
		return nil
	}
	if err := b.client.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// staleConn reports whether err is what a pooled connection gives when the
// server closed it (a restart, an idle timeout): the end of the stream, a
// reset or a broken pipe. The client's idle connections are then dropped,
// and the caller retries once on a fresh connection. A server that is
// down refuses the fresh connection, which is not retried.
func (b *Backend) staleConn(err error) bool {
	if err == nil || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		return false
	}
	_ = b.client.Close() // drops idle connections only; the client stays usable
	return true
}

func opError(op, key string, err error) error {
	return fmt.Errorf("%s %s: %w", op, showKey(key), err)
}

func opErrorN(op string, keys []string, err error) error {
	if len(keys) == 1 {
		return opError(op, keys[0], err)
	}
	return fmt.Errorf("%s of %d keys (%s, ...): %w", op, len(keys), showKey(keys[0]), err)
}
