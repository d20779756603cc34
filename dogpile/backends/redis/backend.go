package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
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
	DefaultTTLFactor = 2
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
}

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

	ttl      atomic.Int64 // server-side TTL in nanoseconds; 0: none
	fixedTTL bool         // Options.ServerTTL is not derived from the region

	lock *lockConfig // nil without the distributed lock

	closeOnce sync.Once
	closeErr  error
}

var (
	_ driver.BytesBackend    = (*Backend)(nil)
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
	b := &Backend{client: client, fixedTTL: opts.ServerTTL != 0}
	switch client.(type) {
	case *goredis.Client:
		b.mode = direct
	case *goredis.ClusterClient:
		b.mode = slotted
	default:
		b.mode = perKey
	}
	if opts.ServerTTL > 0 {
		b.ttl.Store(int64(opts.ServerTTL))
	}
	if opts.DistributedLock {
		b.lock = newLockConfig(opts)
	}
	return b, nil
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
// expiration time of the region last configured with the backend; zero
// for none.
func (b *Backend) ServerTTL() time.Duration { return time.Duration(b.ttl.Load()) }

// SetRegionExpiration derives the server-side TTL from the region's
// expiration time d (zero: never), unless Options.ServerTTL is fixed.
// Regions call it when they are configured; when one Backend serves
// several regions, the last one configured decides.
func (b *Backend) SetRegionExpiration(d time.Duration) {
	if b.fixedTTL {
		return
	}
	var ttl time.Duration
	if d > 0 {
		ttl = math.MaxInt64
		if d <= math.MaxInt64/DefaultTTLFactor {
			ttl = d * DefaultTTLFactor
		}
		ttl = max(ttl, time.Millisecond) // the server's resolution
	}
	b.ttl.Store(int64(ttl))
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
		}
	})
	return b.closeErr
}

// GetBytes returns the entry under key: one GET.
func (b *Backend) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := b.client.Get(ctx, key).Bytes()
	if err != nil {
		if err == goredis.Nil {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("GET: %w", err)
	}
	if v == nil {
		v = []byte{} // an empty entry is still an entry
	}
	return v, true, nil
}

// GetBytesMulti returns the entries under keys, in order, nil for a miss:
// one MGET on a single server; on a cluster, one MGET (or GET) per hash
// slot, pipelined in one round trip per node.
func (b *Backend) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if b.mode == direct {
		vals, err := b.client.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("MGET: %w", err)
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
			p.get = pipe.Get(ctx, keys[idx[0]])
		} else {
			group := make([]string, len(idx))
			for j, i := range idx {
				group[j] = keys[i]
			}
			p.mget = pipe.MGet(ctx, group...)
		}
		cmds = append(cmds, p)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("MGET: %w", err)
	}
	for _, p := range cmds {
		if p.get != nil {
			v, err := p.get.Result()
			switch {
			case err == goredis.Nil:
			case err != nil:
				return nil, fmt.Errorf("GET: %w", err)
			default:
				out[p.idx[0]] = bytesOf(v)
			}
			continue
		}
		vals, err := p.mget.Result()
		if err != nil {
			return nil, fmt.Errorf("MGET: %w", err)
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
	if err := b.client.Process(ctx, setCmd(ctx, key, value, b.ServerTTL())); err != nil {
		return fmt.Errorf("SET: %w", err)
	}
	return nil
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
	ttl := b.ServerTTL()
	if b.mode == direct && ttl == 0 {
		if err := b.client.Process(ctx, msetCmd(ctx, items, nil)); err != nil {
			return fmt.Errorf("MSET: %w", err)
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
				_ = pipe.Process(ctx, setCmd(ctx, items[idx[0]].Key, items[idx[0]].Value, 0))
			} else {
				_ = pipe.Process(ctx, msetCmd(ctx, items, idx))
			}
		}
	default:
		for _, it := range items {
			_ = pipe.Process(ctx, setCmd(ctx, it.Key, it.Value, ttl))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("SET: %w", err)
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
	if err := b.client.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("DEL: %w", err)
	}
	return nil
}

// DeleteMulti removes every key: one DEL on a single server; on a
// cluster, one DEL per hash slot, pipelined.
func (b *Backend) DeleteMulti(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if b.mode == direct {
		if err := b.client.Del(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("DEL: %w", err)
		}
		return nil
	}
	pipe := b.client.Pipeline()
	for _, idx := range b.groups(keys) {
		group := make([]string, len(idx))
		for j, i := range idx {
			group[j] = keys[i]
		}
		pipe.Del(ctx, group...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("DEL: %w", err)
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
