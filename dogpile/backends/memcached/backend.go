package memcached

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
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
	// Selector is the ServerSelector the client given to New was built
	// with (memcache.NewFromSelector), such as a Selector or a
	// *memcache.ServerList. With it, writes are pipelined: a SetBytesMulti
	// or DeleteMulti is one round trip per server, on connections of the
	// backend's own with the client's settings. Without it they go
	// through the client, one command after the other. A Selector other
	// than the client's would write keys where reads do not look.
	Selector memcache.ServerSelector
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
// Operations check their context before they start. Reads and the lock
// go through the memcache client, which takes no context: once sent,
// they are bounded by the client's Timeout. Pipelined writes (see
// Options.Selector) also end when their context does.
type Backend struct {
	client      *memcache.Client
	servers     memcache.ServerSelector // nil: writes go through client
	pipe        *pipeline
	ownsClient  bool // built by a registered factory: Close closes it
	mangleKeys  bool
	lockEnabled bool
	lockTTL     int64         // seconds, the lock's server-side TTL
	lockWait    time.Duration // how long a blocking Acquire waits at most: lockTTL and a poll

	// The server-side TTL of values: fixedTTL seconds (0: none) when
	// ttlFixed (Options.ServerTTL was not zero), otherwise derived from
	// the regions using the backend.
	ttlFixed bool
	fixedTTL int64
	derived  driver.DerivedTTL
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
// Give the client's selector in Options.Selector to pipeline writes; to
// place keys as a Python client does, build the client on a Selector:
//
//	sel, err := memcached.NewSelector(memcached.SelectPyMemcache, "10.0.0.1:11211", "10.0.0.2:11211")
//	...
//	client := memcache.NewFromSelector(sel)
//	b, err := memcached.New(client, memcached.Options{Selector: sel})
//
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
	b := &Backend{client: client, servers: opts.Selector, pipe: &pipeline{client: client},
		mangleKeys: !opts.RefuseInvalidKeys, lockEnabled: opts.DistributedLock}
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = DefaultLockTimeout
	}
	b.lockTTL = lockTTL(timeout)
	b.lockWait = lockPollMax + time.Duration(min(b.lockTTL, math.MaxInt64/int64(time.Second)-1))*time.Second
	if b.ttlFixed = opts.ServerTTL != 0; b.ttlFixed && opts.ServerTTL != NoServerTTL {
		b.fixedTTL = ceilSeconds(opts.ServerTTL)
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
	return time.Duration(b.ttlSeconds()) * time.Second
}

// ttlSeconds is the server-side TTL of a value stored now, in seconds;
// 0 for none.
func (b *Backend) ttlSeconds() int64 {
	if b.ttlFixed {
		return b.fixedTTL
	}
	return derivedTTL(b.derived.Longest())
}

// SetRegionExpiration derives the server-side TTL of values from the
// expiration time of a region using the backend, unless Options.ServerTTL
// is set: twice d rounded up to whole seconds, plus one second, so expired
// values stay readable for the dogpile lock to serve them stale while one
// caller regenerates. A region that never expires (d == 0) leaves values
// without a TTL. When several regions share the backend, the longest TTL
// wins, and none when one of them never expires (driver.DerivedTTL).
// Regions call it when they are configured.
func (b *Backend) SetRegionExpiration(d time.Duration) {
	if !b.ttlFixed {
		b.derived.Add(d)
	}
}

// expiration is the exptime field for a value stored now.
func (b *Backend) expiration() int32 {
	s := b.ttlSeconds()
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

// SetBytes stores value under key with the backend's TTL. A value over
// the server's item size (1 MiB unless memcached runs with -I) is an
// error wrapping driver.ErrValueTooLarge.
func (b *Backend) SetBytes(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return opError("set", key, err)
	}
	sk, err := b.storedKey(key)
	if err != nil {
		return err
	}
	return b.write(ctx, []string{key}, []command{{key: sk, value: value, exp: b.expiration()}})[0]
}

// SetBytesMulti stores every item: with Options.Selector (and from the
// registered names), in one pipelined round trip per server. Every item
// is tried; the items that fail are reported in a *WriteError, each with
// its error, such as one wrapping driver.ErrValueTooLarge for a value over
// the server's item size. No item is sent when one of the keys is refused.
func (b *Backend) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
	if len(items) == 0 {
		return nil
	}
	keys := make([]string, len(items))
	cmds := make([]command, len(items))
	exp := b.expiration()
	for i, it := range items {
		sk, err := b.storedKey(it.Key)
		if err != nil {
			return err
		}
		keys[i] = it.Key
		cmds[i] = command{key: sk, value: it.Value, exp: exp}
	}
	if err := ctx.Err(); err != nil {
		return opErrorN("set_multi", keys, err)
	}
	return writeErrors("set_multi", keys, b.write(ctx, keys, cmds))
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
	return b.write(ctx, []string{key}, []command{{del: true, key: sk}})[0]
}

// DeleteMulti removes every key, pipelined as SetBytesMulti stores;
// missing keys are not an error. Every key is tried; those that fail are
// reported in a *WriteError. No key is sent when one of them is refused.
func (b *Backend) DeleteMulti(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	stored, err := b.storedKeys(keys)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return opErrorN("delete_multi", keys, err)
	}
	cmds := make([]command, len(keys))
	for i, sk := range stored {
		cmds[i] = command{del: true, key: sk}
	}
	return writeErrors("delete_multi", keys, b.write(ctx, keys, cmds))
}

// write runs cmds, cmds[i] for the region's keys[i], and returns the
// error of each, nil for those that succeeded: pipelined per server when
// the backend knows the servers, through the client otherwise.
func (b *Backend) write(ctx context.Context, keys []string, cmds []command) []error {
	errs := make([]error, len(cmds))
	if b.servers != nil {
		b.pipelined(ctx, cmds, errs)
	} else {
		for i, c := range cmds {
			if i > 0 && ctx.Err() != nil {
				errs[i] = ctx.Err()
				continue
			}
			errs[i] = b.writeOne(c)
		}
	}
	for i, err := range errs {
		if err != nil {
			errs[i] = opError(cmds[i].verb(), keys[i], err)
		}
	}
	return errs
}

// pipelined sends cmds to their servers, in parallel when there are
// several, and sets errs[i] to the outcome of cmds[i].
func (b *Backend) pipelined(ctx context.Context, cmds []command, errs []error) {
	type group struct {
		addr net.Addr
		idx  []int // into cmds
	}
	var groups []group
	for i, c := range cmds {
		addr, err := b.servers.PickServer(c.key)
		if err != nil {
			errs[i] = err
			continue
		}
		g := slices.IndexFunc(groups, func(g group) bool { return g.addr.String() == addr.String() })
		if g < 0 {
			g = len(groups)
			groups = append(groups, group{addr: addr})
		}
		groups[g].idx = append(groups[g].idx, i)
	}
	run := func(g group) {
		if len(g.idx) == len(cmds) {
			b.pipe.exec(ctx, g.addr, cmds, errs)
			return
		}
		sub, subErrs := make([]command, len(g.idx)), make([]error, len(g.idx))
		for j, i := range g.idx {
			sub[j] = cmds[i]
		}
		b.pipe.exec(ctx, g.addr, sub, subErrs)
		for j, i := range g.idx {
			errs[i] = subErrs[j]
		}
	}
	if len(groups) == 1 {
		run(groups[0])
		return
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() { run(g) })
	}
	wg.Wait()
}

// writeOne runs c through the client, retrying once on a fresh
// connection when a pooled one was closed by the server.
func (b *Backend) writeOne(c command) error {
	var err error
	if c.del {
		err = b.client.Delete(c.key)
		if b.staleConn(err) {
			err = b.client.Delete(c.key)
		}
		if errors.Is(err, memcache.ErrCacheMiss) {
			return nil
		}
		return err
	}
	it := &memcache.Item{Key: c.key, Value: c.value, Expiration: c.exp}
	err = b.client.Set(it)
	if b.staleConn(err) {
		err = b.client.Set(it)
	}
	// The memcache client reports memcached's refusal only in its text.
	if err != nil && strings.Contains(err.Error(), "SERVER_ERROR object too large") {
		return fmt.Errorf("%w: %d bytes (%v)", driver.ErrValueTooLarge, len(c.value), err)
	}
	return err
}

// Close closes the idle connections of the backend's pipelined writes,
// and those of a client that a registered factory built; a client given
// to New belongs to the caller and is left alone. The backend may still
// be used after Close: it dials again.
func (b *Backend) Close() error {
	b.pipe.closeIdle()
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
	if !closedByServer(err) {
		return false
	}
	_ = b.client.Close() // drops idle connections only; the client stays usable
	return true
}

// closedByServer reports whether err is what a connection gives once the
// server has closed it: the end of the stream, a reset or a broken pipe.
func closedByServer(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}
