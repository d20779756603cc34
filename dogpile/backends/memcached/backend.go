package memcached

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
)

// Backend is a dogpile.BytesBackend on one or more memcached servers. It
// stores the region's wire format as raw bytes with item flags 0, so
// Python's memcached clients read the same entries as bytes. It is also a
// dogpile.Locker (a distributed lock, when distributed_lock is true), a
// dogpile.ExpirationAware and an io.Closer. It is safe for concurrent use.
//
// Operations check their context before they start; once sent, an
// operation is bounded by the client's socket timeout (socket_timeout),
// since the memcache client takes no context.
type Backend struct {
	name        string
	client      *memcache.Client
	ownsClient  bool
	servers     []string // as given, for messages and tests; nil with a client argument
	mangleKeys  bool
	lockEnabled bool
	lockTimeout time.Duration
	lockTTL     int64         // seconds, the lock's server-side TTL
	lockWait    time.Duration // how long a blocking Acquire waits at most: lockTTL and a poll

	// ttl is the server-side TTL of values in seconds: 0 for none, -1
	// until a region reports its expiration (none meanwhile).
	ttl      atomic.Int64
	ttlFixed bool // memcached_expire_time was given
}

var (
	_ dogpile.BytesBackend    = (*Backend)(nil)
	_ dogpile.Locker          = (*Backend)(nil)
	_ dogpile.ExpirationAware = (*Backend)(nil)
	_ io.Closer               = (*Backend)(nil)
)

// New returns a backend configured by args, as the registered name
// "dogpile.cache.memcached" does; see the package documentation for the
// arguments. It does not connect: servers are dialled on first use.
func New(args dogpile.Arguments) (*Backend, error) {
	return newBackend(Name, args)
}

// Client returns the memcache client the backend uses. Keys given to it
// directly are sent as they are, without this package's mangling.
func (b *Backend) Client() *memcache.Client { return b.client }

// StoredKey returns the key memcached stores key under: key itself when it
// is a valid memcached key, MangleKey(key) otherwise; with
// mangle_invalid_keys false, an invalid key is an error wrapping
// dogpile.ErrInvalidArgument.
func (b *Backend) StoredKey(key string) (string, error) { return b.storedKey(key) }

// TTL returns the server-side time to live given to values now: zero for
// none. It is memcached_expire_time when that was given, and otherwise
// derived from the region's expiration (see SetRegionExpiration).
func (b *Backend) TTL() time.Duration {
	return time.Duration(max(b.ttl.Load(), 0)) * time.Second
}

// SetRegionExpiration derives the server-side TTL of values from the
// expiration time of a region using the backend, unless
// memcached_expire_time was given: twice d rounded up to whole seconds,
// plus one second, so expired values stay readable for the dogpile lock to
// serve them stale while one caller regenerates. A region that never
// expires (d == 0) leaves values without a TTL. When several regions share
// the backend, the longest TTL wins, and none when one of them never
// expires.
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
func (b *Backend) SetBytesMulti(ctx context.Context, items []dogpile.BytesItem) error {
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

// Close closes the idle connections of a client the backend created; a
// client given with the "client" argument belongs to the caller and is
// left alone. The backend may still be used after Close: it dials again.
func (b *Backend) Close() error {
	if !b.ownsClient {
		return nil
	}
	if err := b.client.Close(); err != nil {
		return fmt.Errorf("dogpile/memcached: close: %w", err)
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
	return fmt.Errorf("dogpile/memcached: %s %s: %w", op, showKey(key), err)
}

func opErrorN(op string, keys []string, err error) error {
	if len(keys) == 1 {
		return opError(op, keys[0], err)
	}
	return fmt.Errorf("dogpile/memcached: %s of %d keys (%s, ...): %w", op, len(keys), showKey(keys[0]), err)
}
