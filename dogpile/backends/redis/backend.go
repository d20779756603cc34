package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Server-side time to live.
const (
	// DefaultTTLFactor is the server-side time to live of an entry, as a
	// multiple of the region's expiration time, when Options.ServerTTL is
	// zero: an expired value stays readable for as long again, so that
	// callers are served it while one of them regenerates it.
	DefaultTTLFactor = driver.DefaultTTLFactor
	// NoServerTTL, as Options.ServerTTL, makes writes give entries no
	// time to live: they stay on the server until it evicts them.
	NoServerTTL time.Duration = -1
)

// Options are the settings of a Backend that New takes. The zero Options
// are a backend without the distributed lock whose entries live on the
// server for twice the region's expiration time.
type Options struct {
	// ServerTTL is the time to live writes give entries on the server
	// (dogpile.cache's redis_expiration_time). Zero, the default, derives
	// it from the region: DefaultTTLFactor times the region's expiration
	// time, and none for a region whose values never expire. NoServerTTL
	// sets none. A fixed ServerTTL is at least a millisecond, the
	// server's resolution; other negative durations are errors.
	ServerTTL time.Duration

	// DistributedLock makes Mutex return a lock shared by every process
	// using the server (distributed_lock). Without it Mutex returns nil
	// and regions use their in-process lock alone.
	DistributedLock bool

	// LockPrefix is put in front of a key to name its lock (lock_prefix):
	// the lock of "k1" is "_lockk1". Empty means DefaultLockPrefix;
	// otherwise it must match ^[\w\-\.\:]{2,10}$, as in dogpile.cache.
	LockPrefix string

	// LockTimeout is the lock's time to live (lock_timeout), so that a
	// holder that dies frees its key. Zero means DefaultLockTimeout;
	// otherwise at least a millisecond.
	LockTimeout time.Duration

	// LockSleep is the first pause of a waiting Acquire between two
	// attempts (lock_sleep); pauses double up to MaxLockSleep (or
	// LockSleep when longer), with jitter. Zero means DefaultLockSleep;
	// otherwise at least a millisecond.
	LockSleep time.Duration

	// LockNonBlocking makes a waiting Acquire make a single attempt and
	// fail with an error wrapping driver.ErrLockTimeout when the lock is
	// held (dogpile.cache's lock_blocking false). A region then returns
	// that error to callers that found no value to serve.
	LockNonBlocking bool

	// LockBlockingTimeout bounds how long a waiting Acquire tries before
	// it fails with an error wrapping driver.ErrLockTimeout
	// (lock_blocking_timeout). Zero means LockTimeout plus one polling
	// pause, the longer of MaxLockSleep and LockSleep: by then a held lock
	// has expired and the waiter has tried once more. It must be zero
	// with LockNonBlocking, which makes one attempt only.
	LockBlockingTimeout time.Duration

	// CallTimeout bounds every call the backend makes to the server: one
	// command or pipeline with everything it takes (a connection from the
	// pool, a dial, go-redis's retry of a connection the server closed),
	// and each attempt of a waiting lock Acquire. A server that stops
	// answering then costs each call CallTimeout once, rather than a
	// socket timeout per retry. The caller's context bounds calls too,
	// when its deadline comes first. Zero means DefaultCallTimeout;
	// otherwise at least a millisecond. The socket I/O of a client that
	// ignores contexts (goredis.Options.ContextTimeoutEnabled false, the
	// default of clients given to New) is bounded by its own ReadTimeout
	// and WriteTimeout instead, once: keep them close to CallTimeout.
	CallTimeout time.Duration

	// NearCache keeps the entries read in process memory, coherent
	// across processes: the NearCache the client was built with
	// (goredis.Options.ClientSideCache), which is an error otherwise.
	// When the client cannot track keys (a cluster, a Ring, a Sentinel
	// failover client, RESP2, a database other than 0, a server that
	// refuses CLIENT TRACKING or RESP3) the backend reads from the server
	// as without one, and says so once to Logger.
	NearCache *NearCache

	// Logger receives the backend's reports, such as a near cache
	// falling back to plain reads; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultCallTimeout is Options.CallTimeout when zero: one socket
// timeout of the clients the registered names build.
const DefaultCallTimeout = DefaultSocketTimeout

// lockPrefixPattern is dogpile.cache's check of lock_prefix; \w there is
// Unicode-aware.
var lockPrefixPattern = regexp.MustCompile(`^[\p{L}\p{N}_\-.:]{2,10}$`)

// validate reports the first field New cannot take.
func (o Options) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: Options.%s is %v, want %s", driver.ErrInvalidArgument, field, v, want)
	}
	switch {
	case o.ServerTTL < 0 && o.ServerTTL != NoServerTTL || o.ServerTTL > 0 && o.ServerTTL < time.Millisecond:
		return bad("ServerTTL", o.ServerTTL, "at least 1ms, 0 to derive it from the region, or NoServerTTL")
	case o.LockPrefix != "" && !lockPrefixPattern.MatchString(o.LockPrefix):
		return bad("LockPrefix", fmt.Sprintf("%q", o.LockPrefix), `a match of ^[\w\-\.\:]{2,10}$, or "" for DefaultLockPrefix`)
	case o.LockTimeout < 0 || o.LockTimeout > 0 && o.LockTimeout < time.Millisecond:
		return bad("LockTimeout", o.LockTimeout, "at least 1ms, or 0 for DefaultLockTimeout")
	case o.LockSleep < 0 || o.LockSleep > 0 && o.LockSleep < time.Millisecond:
		return bad("LockSleep", o.LockSleep, "at least 1ms, or 0 for DefaultLockSleep")
	case o.LockBlockingTimeout < 0:
		return bad("LockBlockingTimeout", o.LockBlockingTimeout, "a positive duration, or 0 for the default")
	case o.LockNonBlocking && o.LockBlockingTimeout != 0:
		return bad("LockBlockingTimeout", o.LockBlockingTimeout, "0 with LockNonBlocking, which makes a single attempt")
	case o.CallTimeout < 0 || o.CallTimeout > 0 && o.CallTimeout < time.Millisecond:
		return bad("CallTimeout", o.CallTimeout, "at least 1ms, or 0 for DefaultCallTimeout")
	}
	return nil
}

// Backend is a driver.BytesBackend on a go-redis client: a standalone
// server, a Sentinel-managed master, a Redis Cluster or a Ring. It is a
// driver.Locker whose Mutex returns a distributed lock with
// Options.DistributedLock (and nil otherwise, leaving regions their
// in-process lock), a driver.ExpirationAware and an io.Closer. A Backend
// is safe for concurrent use.
type Backend struct {
	client goredis.UniversalClient
	owned  bool // built by a factory from Arguments, which closes it
	mode   mode

	fixedTTL time.Duration     // Options.ServerTTL: NoServerTTL, a fixed TTL, or 0 to derive it
	derived  driver.DerivedTTL // from the regions, when fixedTTL is 0

	lock *lockConfig // nil without the distributed lock

	callTimeout time.Duration
	logger      *slog.Logger

	// nc is the near cache the client was built with, nil without one;
	// near is nc while it is in use, and nil once the backend fell back
	// to plain reads (for good: go-redis never turns its caching on
	// again).
	nc      *NearCache
	near    atomic.Pointer[NearCache]
	nearOff sync.Once

	closeOnce sync.Once
	closeErr  error
}

var (
	_ driver.BytesBackend    = (*Backend)(nil)
	_ driver.NearBackend     = (*Backend)(nil)
	_ driver.Locker          = (*Backend)(nil)
	_ driver.ExpirationAware = (*Backend)(nil)
	_ io.Closer              = (*Backend)(nil)
)

// mode is how multi-key calls reach the servers.
type mode uint8

const (
	// direct: one server takes MGET, MSET and DEL of any keys.
	direct mode = iota
	// slotted: a Redis Cluster, where a multi-key command's keys must
	// share a hash slot; keys are grouped by slot.
	slotted
	// perKey: a client that shards keys itself (a Ring, or an unknown
	// UniversalClient): one single-key command per key, pipelined.
	perKey
)

// New returns a backend on client, built by the caller: goredis.NewClient
// for a standalone server, goredis.NewFailoverClient for the master a
// Sentinel names, goredis.NewClusterClient for a Redis Cluster, or
// goredis.NewRing. The backend uses client as it is and never closes it.
// Options that cannot be taken are an error wrapping
// driver.ErrInvalidArgument that names the field.
func New(client goredis.UniversalClient, opts Options) (*Backend, error) {
	b, err := newBackend(client, opts)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return b, nil
}

// newBackend is New without the package's prefix on errors, for the
// factories, whose errors driver.Open names.
func newBackend(client goredis.UniversalClient, opts Options) (*Backend, error) {
	if isNil(client) {
		return nil, fmt.Errorf("%w: nil client", driver.ErrInvalidArgument)
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	b := &Backend{
		client:      client,
		fixedTTL:    opts.ServerTTL,
		callTimeout: cmp.Or(opts.CallTimeout, DefaultCallTimeout),
		logger:      cmp.Or(opts.Logger, slog.Default()),
	}
	switch client.(type) {
	case *goredis.Client:
		b.mode = direct
	case *goredis.ClusterClient:
		b.mode = slotted
	default:
		b.mode = perKey
	}
	if opts.DistributedLock {
		b.lock = newLockConfig(opts)
	}
	if opts.NearCache != nil {
		reason, err := nearSupport(client, opts.NearCache)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			b.fallBack(reason)
		} else {
			b.nc = opts.NearCache
			b.near.Store(opts.NearCache)
		}
	}
	return b, nil
}

// nearSupport returns why client cannot keep nc coherent, or "" when it
// can; an error when nc is not the client's near cache.
func nearSupport(client goredis.UniversalClient, nc *NearCache) (string, error) {
	c, ok := client.(*goredis.Client)
	switch {
	case !ok:
		if _, cl := client.(*goredis.ClusterClient); cl {
			return "a Redis Cluster client: go-redis's client-side caching serves standalone clients only", nil
		}
		return fmt.Sprintf("a %T: go-redis's client-side caching serves standalone clients only", client), nil
	case c.Options().Addr == "FailoverClient": // how go-redis names its Sentinel clients' address
		return "a Sentinel failover client: go-redis has no client-side caching for it", nil
	}
	o := c.Options()
	switch {
	case o.ClientSideCache != goredis.Cache(nc):
		return "", fmt.Errorf("%w: Options.NearCache is not the client's ClientSideCache: build the client with goredis.Options{ClientSideCache: nc}",
			driver.ErrInvalidArgument)
	case o.Protocol == 2:
		return "RESP2 (protocol 2): invalidations need RESP3", nil
	case o.DB != 0:
		return fmt.Sprintf("database %d: go-redis's client-side caching tracks database 0 only", o.DB), nil
	case o.CredentialsProvider != nil || o.CredentialsProviderContext != nil || o.StreamingCredentialsProvider != nil:
		return "a credentials provider: go-redis turns client-side caching off with one", nil
	}
	return "", nil
}

// fallBack stops using the near cache, for good, and says why once.
func (b *Backend) fallBack(reason string) {
	b.nearOff.Do(func() {
		if nc := b.near.Swap(nil); nc != nil {
			nc.Flush()
		}
		b.logger.Warn("dogpile: redis near cache off; reads go to the server", "reason", reason)
	})
}

// NearCache returns the near cache the backend reads through, nil when it
// has none or fell back to plain reads.
func (b *Backend) NearCache() *NearCache { return b.near.Load() }

// bounded returns ctx bounded by the call budget, and its cancel function.
func (b *Backend) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= b.callTimeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.callTimeout)
}

// failed wraps err, the failure of command op run with bctx, a bound
// version of ctx; it says so when the budget, not ctx, ran out.
func (b *Backend) failed(op string, ctx, bctx context.Context, err error) error {
	if bctx != ctx && bctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("%s: no answer within %v: %w", op, b.callTimeout, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isNil reports a nil client, also a nil pointer of go-redis's client
// types in the interface.
func isNil(c goredis.UniversalClient) bool {
	switch c := c.(type) {
	case nil:
		return true
	case *goredis.Client:
		return c == nil
	case *goredis.ClusterClient:
		return c == nil
	case *goredis.Ring:
		return c == nil
	}
	return false
}

// ServerTTL returns the time to live that writes give entries now:
// Options.ServerTTL when it is fixed, otherwise DefaultTTLFactor times the
// expiration time of the regions configured with the backend (see
// SetRegionExpiration), at least a millisecond; zero for none.
func (b *Backend) ServerTTL() time.Duration {
	switch b.fixedTTL {
	case NoServerTTL:
		return 0
	case 0:
		if ttl := b.derived.Load(); ttl > 0 {
			return max(ttl, time.Millisecond) // the server's resolution
		}
		return 0
	}
	return b.fixedTTL
}

// SetRegionExpiration derives the server-side TTL from the region's
// expiration time d (zero: never), unless Options.ServerTTL is fixed.
// Regions call it when they are configured; when one Backend serves
// several regions, the longest TTL wins, and none when one of them never
// expires (driver.DerivedTTL).
func (b *Backend) SetRegionExpiration(d time.Duration) {
	if b.fixedTTL == 0 {
		b.derived.Add(d)
	}
}

// Close closes the client when the backend was opened by name, which
// built it; a backend from New leaves its client to the caller, and
// Close does nothing. Close is safe to call more than once.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		if b.owned {
			if err := b.client.Close(); err != nil {
				b.closeErr = fmt.Errorf("close: %w", err)
			}
			if b.nc != nil {
				b.nc.Flush()
			}
		}
	})
	return b.closeErr
}

// GetBytes returns the entry under key: from the near cache when it holds
// it, otherwise one GET.
func (b *Backend) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	v, _, ok, err := b.GetBytesMemo(ctx, key)
	return v, ok, err
}

// GetBytesMemo is GetBytes with the Memo of an entry served from the
// near cache: the same Memo for every hit on one entry, a new one once
// the entry was invalidated and read again; nil for an entry read from
// the server (its next read is a hit) and without a near cache. The bytes
// of an entry with a Memo are the same at every hit, and stay valid for
// as long as the caller keeps them.
func (b *Backend) GetBytesMemo(ctx context.Context, key string) ([]byte, *driver.Memo, bool, error) {
	nc := b.near.Load()
	if nc == nil {
		v, ok, err := b.get(ctx, key)
		return v, nil, ok, err
	}
	if e := nc.lookup(key); e != nil {
		if !e.found {
			return nil, nil, false, nil
		}
		return e.value, &e.memo, true, nil
	}
	seen := nc.consulted.Load()
	v, ok, err := b.get(ctx, key)
	if err == nil && nc.consulted.Load() == seen {
		// go-redis read without looking at its cache: it turned its
		// client-side caching off, which it logs with the cause.
		b.fallBack("go-redis turned its client-side caching off: the server refused RESP3 or CLIENT TRACKING")
	}
	return v, nil, ok, err
}

// get is one GET, through go-redis's client-side caching when the client
// has it.
func (b *Backend) get(ctx context.Context, key string) ([]byte, bool, error) {
	bctx, cancel := b.bounded(ctx)
	defer cancel()
	v, err := b.client.Get(bctx, key).Bytes()
	if err != nil {
		if err == goredis.Nil {
			return nil, false, nil
		}
		return nil, false, b.failed("GET", ctx, bctx, err)
	}
	if v == nil {
		v = []byte{} // an empty entry is still an entry
	}
	return v, true, nil
}

// GetBytesMulti returns the entries under keys, in order, nil for a miss:
// those the near cache holds from it, the others with one MGET on a
// single server; on a cluster, one MGET (or GET) per hash slot, pipelined
// in one round trip per node.
func (b *Backend) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	nc := b.near.Load()
	if nc == nil {
		return b.getMulti(ctx, keys)
	}
	out := make([][]byte, len(keys))
	var missing []string
	var at []int
	for i, k := range keys {
		if e := nc.lookup(k); e != nil {
			out[i] = e.value
			continue
		}
		missing, at = append(missing, k), append(at, i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := b.getMulti(ctx, missing)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		out[i] = got[j]
	}
	return out, nil
}

// GetBytesDirect is GetBytesMulti from the server, never from the near
// cache: a region's re-read inside a creation, after it took the
// distributed lock, so that the lock stays exact whatever the delay of
// invalidations. A near cache entry holding another value than the server
// returned is dropped.
func (b *Backend) GetBytesDirect(ctx context.Context, keys []string) ([][]byte, error) {
	out, err := b.getMulti(ctx, keys)
	if err != nil {
		return nil, err
	}
	if nc := b.near.Load(); nc != nil {
		for i, k := range keys {
			nc.check(k, out[i])
		}
	}
	return out, nil
}

// getMulti reads keys from the server, bypassing the near cache.
func (b *Backend) getMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	bctx, cancel := b.bounded(ctx)
	defer cancel()
	if b.mode == direct {
		var cmd *goredis.SliceCmd
		if b.nc == nil {
			cmd = b.client.MGet(bctx, keys...)
		} else {
			// go-redis's client-side caching stays out of pipelines: the
			// read reaches the server.
			pipe := b.client.Pipeline()
			cmd = pipe.MGet(bctx, keys...)
			_, _ = pipe.Exec(bctx)
		}
		vals, err := cmd.Result()
		if err != nil {
			return nil, b.failed("MGET", ctx, bctx, err)
		}
		if len(vals) != len(keys) {
			return nil, fmt.Errorf("MGET of %d keys returned %d values", len(keys), len(vals))
		}
		for i, v := range vals {
			out[i] = entry(v)
		}
		return out, nil
	}

	pipe := b.client.Pipeline()
	type pending struct {
		idx  []int
		get  *goredis.StringCmd
		mget *goredis.SliceCmd
	}
	var cmds []pending
	for _, idx := range b.groups(keys) {
		p := pending{idx: idx}
		if len(idx) == 1 {
			p.get = pipe.Get(bctx, keys[idx[0]])
		} else {
			group := make([]string, len(idx))
			for j, i := range idx {
				group[j] = keys[i]
			}
			p.mget = pipe.MGet(bctx, group...)
		}
		cmds = append(cmds, p)
	}
	if _, err := pipe.Exec(bctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, b.failed("MGET", ctx, bctx, err)
	}
	for _, p := range cmds {
		if p.get != nil {
			v, err := p.get.Result()
			switch {
			case err == goredis.Nil:
			case err != nil:
				return nil, b.failed("GET", ctx, bctx, err)
			default:
				out[p.idx[0]] = bytesOf(v)
			}
			continue
		}
		vals, err := p.mget.Result()
		if err != nil {
			return nil, b.failed("MGET", ctx, bctx, err)
		}
		if len(vals) != len(p.idx) {
			return nil, fmt.Errorf("MGET of %d keys returned %d values", len(p.idx), len(vals))
		}
		for j, i := range p.idx {
			out[i] = entry(vals[j])
		}
	}
	return out, nil
}

// entry converts an MGET element to an entry: nil for a miss.
func entry(v any) []byte {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	return bytesOf(s)
}

// bytesOf returns the bytes of a string go-redis read, without copying:
// go-redis makes each reply string from a byte slice of its own (and its
// StringCmd.Bytes hands that slice out the same way). The result is
// non-nil even for an empty string.
func bytesOf(s string) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// SetBytes stores value under key: SET key value [PX ttl].
func (b *Backend) SetBytes(ctx context.Context, key string, value []byte) error {
	bctx, cancel := b.bounded(ctx)
	defer cancel()
	err := b.client.Process(bctx, setCmd(bctx, key, value, b.ServerTTL()))
	b.forget(key)
	if err != nil {
		return b.failed("SET", ctx, bctx, err)
	}
	return nil
}

// forget drops keys from the near cache once this process wrote them,
// whether or not the write succeeded: after a write returns, the process
// never serves the value before it, without waiting for the server's
// invalidation.
func (b *Backend) forget(keys ...string) {
	if b.nc == nil {
		return
	}
	for _, k := range keys {
		b.nc.forget(k)
	}
}

// setCmd is SET key value, with PX ttl when ttl > 0.
func setCmd(ctx context.Context, key string, value []byte, ttl time.Duration) *goredis.StatusCmd {
	if ttl > 0 {
		return goredis.NewStatusCmd(ctx, "set", key, value, "px", ttlMillis(ttl))
	}
	return goredis.NewStatusCmd(ctx, "set", key, value)
}

// ttlMillis is d in whole milliseconds, rounded up, at least 1.
func ttlMillis(d time.Duration) int64 {
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}

// SetBytesMulti stores every item in one round trip: MSET without a
// server-side TTL, pipelined SET ... PX with one; on a cluster, grouped by
// hash slot, one round trip per node.
func (b *Backend) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
	if len(items) == 0 {
		return nil
	}
	bctx, cancel := b.bounded(ctx)
	defer cancel()
	defer func() {
		for _, it := range items {
			b.forget(it.Key)
		}
	}()
	ttl := b.ServerTTL()
	if b.mode == direct && ttl == 0 {
		if err := b.client.Process(bctx, msetCmd(bctx, items, nil)); err != nil {
			return b.failed("MSET", ctx, bctx, err)
		}
		return nil
	}
	pipe := b.client.Pipeline()
	switch {
	case b.mode == slotted && ttl == 0:
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.Key
		}
		for _, idx := range b.groups(keys) {
			if len(idx) == 1 {
				_ = pipe.Process(bctx, setCmd(bctx, items[idx[0]].Key, items[idx[0]].Value, 0))
			} else {
				_ = pipe.Process(bctx, msetCmd(bctx, items, idx))
			}
		}
	default:
		for _, it := range items {
			_ = pipe.Process(bctx, setCmd(bctx, it.Key, it.Value, ttl))
		}
	}
	if _, err := pipe.Exec(bctx); err != nil {
		return b.failed("SET", ctx, bctx, err)
	}
	return nil
}

// msetCmd is MSET of items, or of the items at idx when idx is not nil.
func msetCmd(ctx context.Context, items []driver.BytesItem, idx []int) *goredis.StatusCmd {
	n := len(items)
	if idx != nil {
		n = len(idx)
	}
	args := make([]any, 1, 1+2*n)
	args[0] = "mset"
	if idx == nil {
		for _, it := range items {
			args = append(args, it.Key, it.Value)
		}
	} else {
		for _, i := range idx {
			args = append(args, items[i].Key, items[i].Value)
		}
	}
	return goredis.NewStatusCmd(ctx, args...)
}

// Delete removes key: one DEL.
func (b *Backend) Delete(ctx context.Context, key string) error {
	bctx, cancel := b.bounded(ctx)
	defer cancel()
	err := b.client.Del(bctx, key).Err()
	b.forget(key)
	if err != nil {
		return b.failed("DEL", ctx, bctx, err)
	}
	return nil
}

// DeleteMulti removes every key: one DEL on a single server; on a
// cluster, one DEL per hash slot, pipelined.
func (b *Backend) DeleteMulti(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	bctx, cancel := b.bounded(ctx)
	defer cancel()
	defer b.forget(keys...)
	if b.mode == direct {
		if err := b.client.Del(bctx, keys...).Err(); err != nil {
			return b.failed("DEL", ctx, bctx, err)
		}
		return nil
	}
	pipe := b.client.Pipeline()
	for _, idx := range b.groups(keys) {
		group := make([]string, len(idx))
		for j, i := range idx {
			group[j] = keys[i]
		}
		pipe.Del(bctx, group...)
	}
	if _, err := pipe.Exec(bctx); err != nil {
		return b.failed("DEL", ctx, bctx, err)
	}
	return nil
}

// groups splits the positions of keys into the groups one multi-key
// command may take: by hash slot on a cluster, one key each otherwise.
// Positions keep their order within a group.
func (b *Backend) groups(keys []string) [][]int {
	if b.mode == perKey {
		out := make([][]int, len(keys))
		for i := range keys {
			out[i] = []int{i}
		}
		return out
	}
	return groupBySlot(keys)
}
