package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
)

// DefaultTTLFactor is the server-side time to live of an entry, as a
// multiple of the region's expiration time, when redis_expiration_time
// (valkey_expiration_time) is not given: an expired value stays readable
// for as long again, so that callers are served it while one of them
// regenerates it. A region without an expiration time sets no TTL.
const DefaultTTLFactor = 2

// Backend is a dogpile.BytesBackend on a Redis (or Valkey) server, a
// Sentinel-managed master or a Redis Cluster. It is a dogpile.Locker
// whose Mutex returns a distributed lock when distributed_lock is true (and
// nil otherwise, leaving regions their in-process lock), a
// dogpile.ExpirationAware and an io.Closer. A Backend is safe for
// concurrent use.
type Backend struct {
	name   string
	client goredis.UniversalClient
	owned  bool // the Backend built the client and closes it
	mode   mode

	ttl      atomic.Int64 // server-side TTL in nanoseconds; 0: none
	fixedTTL bool         // redis_expiration_time was given

	lock *lockConfig // nil without distributed_lock

	closeOnce sync.Once
	closeErr  error
}

var (
	_ dogpile.BytesBackend    = (*Backend)(nil)
	_ dogpile.Locker          = (*Backend)(nil)
	_ dogpile.ExpirationAware = (*Backend)(nil)
	_ io.Closer               = (*Backend)(nil)
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

// New returns a backend for a standalone server, built from arguments of
// dogpile.cache.redis (see the package documentation).
func New(args dogpile.Arguments) (*Backend, error) { return Open(Name, args) }

// NewSentinel returns a backend for the master that Redis Sentinel names,
// built from arguments of dogpile.cache.redis_sentinel.
func NewSentinel(args dogpile.Arguments) (*Backend, error) { return Open(SentinelName, args) }

// NewCluster returns a backend for a Redis Cluster, built from arguments
// of dogpile.cache.redis_cluster.
func NewCluster(args dogpile.Arguments) (*Backend, error) { return Open(ClusterName, args) }

// Open returns the backend registered under name, one of the six names
// this package registers, built from args.
func Open(name string, args dogpile.Arguments) (*Backend, error) {
	f, ok := flavors[name]
	if !ok {
		return nil, fmt.Errorf("dogpile/redis: %w %q: not one of this package's names", dogpile.ErrUnknownBackend, name)
	}
	cfg, err := parseArguments(f, args)
	if err != nil {
		return nil, fmt.Errorf("dogpile/redis: %w", err)
	}
	b := &Backend{name: name, lock: cfg.lock, fixedTTL: cfg.ttlSet}
	b.ttl.Store(int64(cfg.ttl))
	switch {
	case cfg.client != nil:
		b.client = cfg.client
		switch cfg.client.(type) {
		case *goredis.Client:
			b.mode = direct
		case *goredis.ClusterClient:
			b.mode = slotted
		default:
			b.mode = perKey
		}
	case cfg.cluster != nil:
		b.client, b.owned, b.mode = goredis.NewClusterClient(cfg.cluster), true, slotted
	case cfg.failover != nil:
		b.client, b.owned, b.mode = goredis.NewFailoverClient(cfg.failover), true, direct
	default:
		b.client, b.owned, b.mode = goredis.NewClient(cfg.options), true, direct
	}
	return b, nil
}

// Client returns the go-redis client the backend uses: the one it built,
// or the one given as the client argument.
func (b *Backend) Client() goredis.UniversalClient { return b.client }

// BackendName returns the name the backend was opened as, such as
// "dogpile.cache.redis".
func (b *Backend) BackendName() string { return b.name }

// ServerTTL returns the time to live that writes give entries now: the
// redis_expiration_time argument when it was given, otherwise
// DefaultTTLFactor times the region's expiration time; zero for none.
func (b *Backend) ServerTTL() time.Duration { return time.Duration(b.ttl.Load()) }

// SetRegionExpiration derives the server-side TTL from the region's
// expiration time d (zero: never), unless redis_expiration_time was given.
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
		ttl = max(ttl, time.Millisecond) // PX takes whole milliseconds
	}
	b.ttl.Store(int64(ttl))
}

// Close closes the client the backend built from its arguments. A client
// given as the client argument belongs to the caller and stays open.
// Close is safe to call more than once.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		if b.owned {
			if err := b.client.Close(); err != nil {
				b.closeErr = fmt.Errorf("dogpile/redis: close: %w", err)
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
		return nil, false, fmt.Errorf("dogpile/redis: GET: %w", err)
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
			return nil, fmt.Errorf("dogpile/redis: MGET: %w", err)
		}
		if len(vals) != len(keys) {
			return nil, fmt.Errorf("dogpile/redis: MGET of %d keys returned %d values", len(keys), len(vals))
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
		return nil, fmt.Errorf("dogpile/redis: MGET: %w", err)
	}
	for _, p := range cmds {
		if p.get != nil {
			v, err := p.get.Result()
			switch {
			case err == goredis.Nil:
			case err != nil:
				return nil, fmt.Errorf("dogpile/redis: GET: %w", err)
			default:
				out[p.idx[0]] = bytesOf(v)
			}
			continue
		}
		vals, err := p.mget.Result()
		if err != nil {
			return nil, fmt.Errorf("dogpile/redis: MGET: %w", err)
		}
		if len(vals) != len(p.idx) {
			return nil, fmt.Errorf("dogpile/redis: MGET of %d keys returned %d values", len(p.idx), len(vals))
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
		return fmt.Errorf("dogpile/redis: SET: %w", err)
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

// ttlMillis is d in whole milliseconds, at least 1.
func ttlMillis(d time.Duration) int64 {
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}

// SetBytesMulti stores every item in one round trip: MSET without a
// server-side TTL, pipelined SET ... PX with one; on a cluster, grouped by
// hash slot, one round trip per node.
func (b *Backend) SetBytesMulti(ctx context.Context, items []dogpile.BytesItem) error {
	if len(items) == 0 {
		return nil
	}
	ttl := b.ServerTTL()
	if b.mode == direct && ttl == 0 {
		if err := b.client.Process(ctx, msetCmd(ctx, items, nil)); err != nil {
			return fmt.Errorf("dogpile/redis: MSET: %w", err)
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
		return fmt.Errorf("dogpile/redis: SET: %w", err)
	}
	return nil
}

// msetCmd is MSET of items, or of the items at idx when idx is not nil.
func msetCmd(ctx context.Context, items []dogpile.BytesItem, idx []int) *goredis.StatusCmd {
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
		return fmt.Errorf("dogpile/redis: DEL: %w", err)
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
			return fmt.Errorf("dogpile/redis: DEL: %w", err)
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
		return fmt.Errorf("dogpile/redis: DEL: %w", err)
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
