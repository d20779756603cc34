package dogpile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Backend is what a region stores entries in. Every backend implements
// Delete and DeleteMulti, and one of ValueBackend (Go values kept as they
// are, like dogpile.cache.memory) or BytesBackend (bytes in the wire format,
// like Redis and Memcached). A backend may also implement Locker to provide
// a distributed dogpile lock, and io.Closer to release its connections when
// the region is closed.
//
// Backends are safe for concurrent use. Keys reach them already mangled.
type Backend interface {
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteMulti removes every key; missing keys are not an error.
	DeleteMulti(ctx context.Context, keys []string) error
}

// ValueBackend stores CachedValues as Go values.
type ValueBackend interface {
	Backend
	// Get returns the value under key, and false when there is none.
	Get(ctx context.Context, key string) (CachedValue, bool, error)
	// GetMulti returns one value per key, in order; a missing key gives the
	// zero CachedValue.
	GetMulti(ctx context.Context, keys []string) ([]CachedValue, error)
	// Set stores value under key.
	Set(ctx context.Context, key string, value CachedValue) error
	// SetMulti stores every item. It must not keep or modify the slice.
	SetMulti(ctx context.Context, items []Item) error
}

// BytesBackend stores entries as bytes: the wire format written by
// EncodeEntry. The region encodes and decodes; the backend only moves bytes.
type BytesBackend interface {
	Backend
	// GetBytes returns the bytes under key, and false when there are none.
	GetBytes(ctx context.Context, key string) ([]byte, bool, error)
	// GetBytesMulti returns one entry per key, in order; nil for a miss.
	GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error)
	// SetBytes stores value under key.
	SetBytes(ctx context.Context, key string, value []byte) error
	// SetBytesMulti stores every item. It must not keep or modify the slice.
	SetBytesMulti(ctx context.Context, items []BytesItem) error
}

// Item is a key and a value for ValueBackend.SetMulti.
type Item struct {
	Key   string
	Value CachedValue
}

// BytesItem is a key and an entry for BytesBackend.SetBytesMulti.
type BytesItem struct {
	Key   string
	Value []byte
}

// Locker is implemented by backends that provide their own dogpile lock
// (dogpile.cache's get_mutex), such as a distributed lock. A backend without
// it, or returning nil, gets the region's in-process lock. Either way, the
// callers of one process coalesce on an in-process lock first, so only one
// of them touches the backend's mutex.
type Locker interface {
	Mutex(key string) Mutex
}

// Mutex is a lock for one key (dogpile.cache's CacheMutex).
type Mutex interface {
	// Acquire takes the lock. With wait false it returns at once, reporting
	// whether it got the lock; with wait true it returns true once it has
	// the lock, or false with ctx's error when ctx ends first.
	Acquire(ctx context.Context, wait bool) (bool, error)
	// Release gives the lock up. A lock that expired before Release is
	// reported with an error wrapping ErrLockLost.
	Release(ctx context.Context) error
	// Locked reports whether anyone holds the lock.
	Locked(ctx context.Context) (bool, error)
}

// ExpirationAware is implemented by backends that derive a server-side
// time to live from the region's expiration time. The region calls it once,
// when it is configured.
type ExpirationAware interface {
	SetRegionExpiration(d time.Duration)
}

// Factory builds a backend from its arguments. It must not modify args.
type Factory func(args Arguments) (Backend, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// knownImports names the package that registers each built-in name, so an
// unknown-backend error can say which import is missing.
var knownImports = map[string]string{
	"dogpile.cache.dbm":             "github.com/dogpilego/dogpile/dogpile/backends/file",
	"dogpile.cache.redis":           "github.com/dogpilego/dogpile/dogpile/backends/redis",
	"dogpile.cache.redis_sentinel":  "github.com/dogpilego/dogpile/dogpile/backends/redis",
	"dogpile.cache.redis_cluster":   "github.com/dogpilego/dogpile/dogpile/backends/redis",
	"dogpile.cache.valkey":          "github.com/dogpilego/dogpile/dogpile/backends/redis",
	"dogpile.cache.valkey_sentinel": "github.com/dogpilego/dogpile/dogpile/backends/redis",
	"dogpile.cache.valkey_cluster":  "github.com/dogpilego/dogpile/dogpile/backends/redis",
	"dogpile.cache.memcached":       "github.com/dogpilego/dogpile/dogpile/backends/memcached",
	"dogpile.cache.pylibmc":         "github.com/dogpilego/dogpile/dogpile/backends/memcached",
	"dogpile.cache.bmemcached":      "github.com/dogpilego/dogpile/dogpile/backends/memcached",
	"dogpile.cache.pymemcache":      "github.com/dogpilego/dogpile/dogpile/backends/memcached",
}

// Register makes a backend factory available under name, as database/sql
// does for drivers. Backend packages call it from init. Register panics if
// name is empty, factory is nil, or name is already registered: all three
// are programming errors found at start-up.
func Register(name string, factory Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || factory == nil {
		panic("dogpile: Register with an empty name or a nil factory")
	}
	if _, dup := registry[name]; dup {
		panic("dogpile: Register called twice for backend " + name)
	}
	registry[name] = factory
}

// Backends returns the sorted names of the registered backends.
func Backends() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// OpenBackend builds the backend registered under name with args.
func OpenBackend(name string, args Arguments) (Backend, error) {
	registryMu.RLock()
	factory, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		if pkg, known := knownImports[name]; known {
			return nil, fmt.Errorf("%w %q: add import _ %q", ErrUnknownBackend, name, pkg)
		}
		return nil, fmt.Errorf("%w %q: no package registered it (registered: %v)", ErrUnknownBackend, name, Backends())
	}
	b, err := factory(args)
	if err != nil {
		if strings.HasPrefix(err.Error(), "dogpile") {
			return nil, err // already says which backend
		}
		return nil, fmt.Errorf("dogpile: backend %s: %w", name, err)
	}
	if b == nil {
		return nil, fmt.Errorf("%w: factory for %s returned nil", ErrInvalidBackend, name)
	}
	return b, nil
}
