package redis

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Near cache defaults.
const (
	// DefaultNearCacheMaxEntries bounds the entries of a near cache whose
	// NearCacheOptions.MaxEntries is zero.
	DefaultNearCacheMaxEntries = 10_000
	// DefaultNearCacheMaxBytes bounds the memory of a near cache whose
	// NearCacheOptions.MaxBytes is zero.
	DefaultNearCacheMaxBytes = 64 << 20
	// DefaultNearCacheTTL is how long an entry is served from process
	// memory at most when NearCacheOptions.TTL is zero, whatever becomes
	// of its invalidation.
	DefaultNearCacheTTL = 10 * time.Second
	// NearCacheDrainInterval is how often the clients the registered
	// names build with a near cache read the invalidations that wait on
	// their idle connections (go-redis's ClientSideCacheConfig
	// DrainInterval, 5 ms by default): another process's write reaches
	// the near cache about this long, plus a round trip, after the server
	// applied it. Give it to the clients built for New as well.
	NearCacheDrainInterval = 2 * time.Millisecond
)

// nearEntryOverhead is what an entry costs beside its key and reply, for
// the byte bound.
const nearEntryOverhead = 160

// NearCacheOptions bound a NearCache. Zero values take the defaults.
type NearCacheOptions struct {
	// MaxEntries bounds the number of entries (near_cache_max_entries);
	// zero means DefaultNearCacheMaxEntries.
	MaxEntries int
	// MaxBytes bounds the memory the entries take, keys and values with
	// a fixed overhead each (near_cache_max_bytes); zero means
	// DefaultNearCacheMaxBytes. An entry larger than MaxBytes is never
	// kept.
	MaxBytes int64
	// TTL is the longest an entry is served from process memory after it
	// was read from the server (near_cache_ttl), whether or not an
	// invalidation arrives: the bound on staleness when invalidations are
	// lost, as behind a network partition that leaves connections open.
	// Zero means DefaultNearCacheTTL; otherwise at least a millisecond.
	TTL time.Duration
}

func (o NearCacheOptions) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: NearCacheOptions.%s is %v, want %s", driver.ErrInvalidArgument, field, v, want)
	}
	switch {
	case o.MaxEntries < 0:
		return bad("MaxEntries", o.MaxEntries, "a positive count, or 0 for DefaultNearCacheMaxEntries")
	case o.MaxBytes < 0:
		return bad("MaxBytes", o.MaxBytes, "a positive size, or 0 for DefaultNearCacheMaxBytes")
	case o.TTL < 0 || o.TTL > 0 && o.TTL < time.Millisecond:
		return bad("TTL", o.TTL, "at least 1ms, or 0 for DefaultNearCacheTTL")
	}
	return nil
}

// NearCache keeps, in process memory, the entries a Backend read with
// GET, kept coherent by the server: it is the cache of go-redis's
// server-assisted client-side caching (goredis.Options.ClientSideCache),
// which turns CLIENT TRACKING on for every connection of its client and
// deletes entries as the server's invalidations arrive, whoever wrote the
// key (another process, a Python client, a FLUSHALL) and whenever the
// connection that read them is closed. Unlike go-redis's LocalCache it
// hands each entry out as it is, without a copy, with a driver.Memo
// beside it, so that a region decodes an entry once rather than at every
// hit; and it keeps GET replies only (other commands pass through to the
// server).
//
// Give a NearCache to one client, and the same NearCache to the backends
// on that client in Options.NearCache:
//
//	nc, err := redis.NewNearCache(redis.NearCacheOptions{MaxEntries: 50_000})
//	client := goredis.NewClient(&goredis.Options{Addr: addr, ClientSideCache: nc})
//	b, err := redis.New(client, redis.Options{NearCache: nc})
//
// Its methods Get, Reserve, FulfillOwned, Cancel, DeleteByRedisKey,
// DeleteByCacheKey, EvictByConn and Flush are goredis.Cache's, for
// go-redis; the values they take and return must not be modified. The
// zero NearCache is one with the default bounds. A NearCache is safe for
// concurrent use.
type NearCache struct {
	maxEntries int
	maxBytes   int64
	ttl        time.Duration

	// consulted counts the calls go-redis made; a backend sees from it
	// whether go-redis still uses the cache.
	consulted atomic.Uint64

	mu      sync.RWMutex
	ns      string                // go-redis's namespace of its cache keys, learned from the first GET
	entries map[string]*nearEntry // by the key as the backend names it
	pending map[string]reservation
	byConn  map[uint64]map[*nearEntry]struct{}
	hand    *nearEntry // the clock hand; entries form a ring through next and prev
	size    int64      // bytes of all entries
	token   uint64     // the last reservation token given
}

var _ goredis.Cache = (*NearCache)(nil)

// reservation is a read in flight, whose reply may be kept.
type reservation struct {
	token uint64
	at    int64 // monotonic nanoseconds (see mono) when it was reserved, before the read was sent
}

// nearEntry is one GET reply.
type nearEntry struct {
	key     string
	raw     []byte // the reply, RESP, as go-redis gives it back on a hit
	value   []byte // the bulk string within raw; nil for a missing key
	found   bool
	conn    uint64 // the connection that read it
	expires int64  // monotonic nanoseconds past which it is not served: TTL after the read was sent
	size    int64
	memo    driver.Memo

	ref        atomic.Bool // read since the clock hand last passed
	prev, next *nearEntry
}

// NewNearCache returns an empty NearCache with the bounds o, or an error
// wrapping driver.ErrInvalidArgument that names the field New cannot
// take.
func NewNearCache(o NearCacheOptions) (*NearCache, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return newNearCache(o), nil
}

func newNearCache(o NearCacheOptions) *NearCache {
	c := &NearCache{maxEntries: o.MaxEntries, maxBytes: o.MaxBytes, ttl: o.TTL}
	c.init()
	return c
}

// init applies the defaults and makes the maps: at construction, and at
// the first reservation of a NearCache that was not made by NewNearCache
// (its zero value is a near cache with the defaults). Callers hold c.mu
// for writing, or own c.
func (c *NearCache) init() {
	if c.entries != nil {
		return
	}
	if c.maxEntries <= 0 {
		c.maxEntries = DefaultNearCacheMaxEntries
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultNearCacheMaxBytes
	}
	if c.ttl <= 0 {
		c.ttl = DefaultNearCacheTTL
	}
	c.entries = make(map[string]*nearEntry)
	c.pending = make(map[string]reservation)
	c.byConn = make(map[uint64]map[*nearEntry]struct{})
}

// Len returns the number of entries held, including those past their TTL
// that nothing replaced yet.
func (c *NearCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Bytes returns the memory the entries take, as the byte bound counts it.
func (c *NearCache) Bytes() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.size
}

// monoStart anchors mono.
var monoStart = time.Now()

// mono returns monotonic nanoseconds, immune to changes of the wall clock.
func mono() int64 { return int64(time.Since(monoStart)) }

// lookup returns the live entry of key, or nil: the backend's hit path.
func (c *NearCache) lookup(key string) *nearEntry {
	c.mu.RLock()
	e := c.entries[key]
	c.mu.RUnlock()
	if e == nil || mono() > e.expires {
		return nil
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e
}

// getArgs is how go-redis's cache keys of GET commands begin after their
// namespace: the RESP array of "get" and the key.
const getArgs = "*2\r\n$3\r\nget\r\n$"

// cutGet returns the key of the RESP array ["get", key] that rest holds
// past getArgs.
func cutGet(rest string) (string, bool) {
	i := strings.IndexByte(rest, '\r')
	if i <= 0 {
		return "", false
	}
	n, err := strconv.Atoi(rest[:i])
	if err != nil || n < 0 || len(rest) != i+2+n+2 || rest[i+1] != '\n' || !strings.HasSuffix(rest, "\r\n") {
		return "", false
	}
	return rest[i+2 : i+2+n], true
}

// keyOf returns the key of go-redis's cache key of GET key, in the
// namespace learned; false for any other command or namespace. Callers
// hold c.mu.
func (c *NearCache) keyOf(cacheKey string) (string, bool) {
	if c.ns == "" {
		return "", false
	}
	rest, ok := strings.CutPrefix(cacheKey, c.ns)
	if !ok {
		return "", false
	}
	if rest, ok = strings.CutPrefix(rest, getArgs); !ok {
		return "", false
	}
	return cutGet(rest)
}

// learn returns the key of a GET's cache key, as Reserve is given it with
// its namespaced Redis keys, and learns the namespace from the first one.
// Callers hold c.mu for writing.
func (c *NearCache) learn(cacheKey string, redisKeys []string) (string, bool) {
	if c.ns != "" {
		return c.keyOf(cacheKey)
	}
	i := strings.Index(cacheKey, getArgs)
	if i < 0 || len(redisKeys) != 1 {
		return "", false
	}
	ns := cacheKey[:i]
	key, ok := cutGet(cacheKey[i+len(getArgs):])
	if !ok || redisKeys[0] != ns+key {
		return "", false
	}
	c.ns = strings.Clone(ns)
	return key, true
}

// Get returns the reply held under cacheKey, for go-redis. It never
// waits for a read in progress.
func (c *NearCache) Get(_ context.Context, cacheKey string) ([]byte, bool) {
	c.consulted.Add(1)
	c.mu.RLock()
	key, ok := c.keyOf(cacheKey)
	var e *nearEntry
	if ok {
		e = c.entries[key]
	}
	c.mu.RUnlock()
	if e == nil || mono() > e.expires {
		return nil, false
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e.raw, true
}

// Reserve claims cacheKey for one read, for go-redis: shouldFetch is true,
// with a token, when the reply may be kept. Commands other than GET, and a
// key being read already, are not reserved; go-redis then reads without
// keeping the reply.
func (c *NearCache) Reserve(cacheKey string, redisKeys []string) (token uint64, shouldFetch bool) {
	c.consulted.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	key, ok := c.learn(cacheKey, redisKeys)
	if !ok {
		return 0, false
	}
	if e := c.entries[key]; e != nil {
		if mono() <= e.expires {
			return 0, false // go-redis reads it with Get
		}
		c.removeLocked(e)
	}
	if _, busy := c.pending[key]; busy {
		return 0, false
	}
	c.token++
	c.pending[strings.Clone(key)] = reservation{token: c.token, at: mono()}
	return c.token, true
}

// FulfillOwned keeps the reply value of the read reserved with token,
// read on connection ownerConnID, for go-redis. It reports whether the
// reply is kept: not when the reservation was dropped meanwhile (an
// invalidation, a write of this process, a flush), nor when the reply
// is larger than the byte bound.
func (c *NearCache) FulfillOwned(cacheKey string, token, ownerConnID uint64, value []byte) bool {
	v, found, ok := bulkString(value)
	if !ok {
		c.Cancel(cacheKey, token)
		return false
	}
	raw := bytes.Clone(value)
	e := &nearEntry{raw: raw, found: found, conn: ownerConnID}
	if found {
		e.value = raw[len(value)-len(v)-2 : len(value)-2 : len(value)-2]
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.keyOf(cacheKey)
	r, reserved := c.pending[key]
	if !ok || !reserved || r.token != token {
		return false
	}
	delete(c.pending, key)
	e.key = strings.Clone(key)
	e.size = int64(len(e.key)+len(raw)) + nearEntryOverhead
	// The TTL runs from before the read was sent: no entry is served
	// longer than TTL after the server answered.
	e.expires = r.at + int64(c.ttl)
	if e.size > c.maxBytes || mono() > e.expires {
		return false
	}
	if old := c.entries[key]; old != nil {
		c.removeLocked(old)
	}
	c.insertLocked(e)
	c.evictLocked()
	return true
}

// bulkString returns the string of a RESP bulk string reply, or found
// false for a null reply (a missing key); ok is false for any other
// reply.
func bulkString(raw []byte) (v []byte, found, ok bool) {
	switch {
	case string(raw) == "_\r\n" || string(raw) == "$-1\r\n":
		return nil, false, true
	case len(raw) < 4 || raw[0] != '$':
		return nil, false, false
	}
	i := bytes.IndexByte(raw, '\r')
	if i < 0 {
		return nil, false, false
	}
	n, err := strconv.Atoi(string(raw[1:i]))
	if err != nil || n < 0 || len(raw) != i+2+n+2 || raw[i+1] != '\n' {
		return nil, false, false
	}
	return raw[i+2 : i+2+n], true, true
}

// Cancel drops the reservation of cacheKey made with token, for go-redis.
func (c *NearCache) Cancel(cacheKey string, token uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.keyOf(cacheKey)
	if r, reserved := c.pending[key]; !ok || !reserved || r.token != token {
		return false
	}
	delete(c.pending, key)
	return true
}

// DeleteByRedisKey drops the entry and the reservation of a key, named as
// go-redis names it (with its namespace): the server invalidated it.
func (c *NearCache) DeleteByRedisKey(redisKey string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ns == "" {
		return 0
	}
	key, ok := strings.CutPrefix(redisKey, c.ns)
	if !ok {
		return 0
	}
	return c.forgetLocked(key)
}

// DeleteByCacheKey drops the entry under cacheKey, for go-redis.
func (c *NearCache) DeleteByCacheKey(cacheKey string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.keyOf(cacheKey)
	if !ok {
		return false
	}
	e := c.entries[key]
	if e != nil {
		c.removeLocked(e)
	}
	return e != nil
}

// EvictByConn drops every entry read on the connection connID, for
// go-redis: the connection is gone or replaced, and with it the server's
// tracking of what it read.
func (c *NearCache) EvictByConn(connID uint64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.byConn[connID]
	n := len(set)
	for e := range set {
		c.removeLocked(e)
	}
	return n
}

// Flush drops every entry and reservation: the server was flushed, or
// the client's tracking stopped.
func (c *NearCache) Flush() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	clear(c.entries)
	clear(c.pending)
	clear(c.byConn)
	c.hand, c.size = nil, 0
	return n
}

// forget drops the entry and the reservation of key: this process wrote
// or deleted it, so neither a held entry nor a read in flight may be
// served after the write returned.
func (c *NearCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(key)
}

func (c *NearCache) forgetLocked(key string) int {
	delete(c.pending, key)
	if e := c.entries[key]; e != nil {
		c.removeLocked(e)
		return 1
	}
	return 0
}

// check drops the entry of key unless it holds what a read of the server
// just returned, so that a process never serves from memory a value older
// than one it read past the near cache.
func (c *NearCache) check(key string, v []byte) {
	c.mu.RLock()
	e := c.entries[key]
	c.mu.RUnlock()
	if e == nil || e.found == (v != nil) && bytes.Equal(e.value, v) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] == e {
		c.removeLocked(e)
	}
}

// insertLocked adds e to the maps and to the ring, just behind the hand:
// the last entry the hand reaches.
func (c *NearCache) insertLocked(e *nearEntry) {
	c.entries[e.key] = e
	set := c.byConn[e.conn]
	if set == nil {
		set = make(map[*nearEntry]struct{})
		c.byConn[e.conn] = set
	}
	set[e] = struct{}{}
	c.size += e.size
	if c.hand == nil {
		e.prev, e.next = e, e
		c.hand = e
		return
	}
	e.next, e.prev = c.hand, c.hand.prev
	e.prev.next, e.next.prev = e, e
}

func (c *NearCache) removeLocked(e *nearEntry) {
	delete(c.entries, e.key)
	if set := c.byConn[e.conn]; set != nil {
		delete(set, e)
		if len(set) == 0 {
			delete(c.byConn, e.conn)
		}
	}
	c.size -= e.size
	if e.next == e {
		c.hand = nil
	} else {
		e.prev.next, e.next.prev = e.next, e.prev
		if c.hand == e {
			c.hand = e.next
		}
	}
	e.prev, e.next = nil, nil
}

// evictLocked drops entries until the bounds hold, by the clock
// algorithm: the hand passes over entries read since it last came by
// (clearing their mark) and drops the first one that was not.
func (c *NearCache) evictLocked() {
	for c.hand != nil && (len(c.entries) > c.maxEntries || c.size > c.maxBytes) {
		e := c.hand
		if e.ref.Load() {
			e.ref.Store(false)
			c.hand = e.next
			continue
		}
		c.removeLocked(e)
	}
}
