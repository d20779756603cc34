package driver

import (
	"context"
	"sync/atomic"
	"time"
)

// Backend is what a region stores entries in. Every backend implements
// Delete and DeleteMulti, and one of ValueBackend and BytesBackend. A
// backend may also implement Locker, ExpirationAware and io.Closer.
//
// Backends are safe for concurrent use. Keys reach them already mangled.
type Backend interface {
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteMulti removes every key; missing keys are not an error.
	DeleteMulti(ctx context.Context, keys []string) error
}

// ValueBackend stores CachedValues as Go values, as they are.
type ValueBackend interface {
	Backend
	// Get returns the value under key, and false when there is none.
	Get(ctx context.Context, key string) (CachedValue, bool, error)
	// GetMulti returns one value per key, in order; a missing key gives
	// the zero CachedValue.
	GetMulti(ctx context.Context, keys []string) ([]CachedValue, error)
	// Set stores value under key.
	Set(ctx context.Context, key string, value CachedValue) error
	// SetMulti stores every item. It must not keep or modify the slice.
	SetMulti(ctx context.Context, items []Item) error
}

// BytesBackend stores entries as bytes in the wire format; the region
// encodes and decodes, the backend only moves bytes.
type BytesBackend interface {
	Backend
	// GetBytes returns the bytes under key, and false when there are none.
	// The region does not modify them, and keeps them no longer than the
	// call that read them unless the backend documents otherwise.
	GetBytes(ctx context.Context, key string) ([]byte, bool, error)
	// GetBytesMulti returns one entry per key, in order; nil for a miss.
	GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error)
	// SetBytes stores value under key. It must not keep value after it
	// returns unless it copies it.
	SetBytes(ctx context.Context, key string, value []byte) error
	// SetBytesMulti stores every item. It must not keep or modify the
	// slice.
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
// (dogpile.cache's get_mutex), such as a distributed lock. A backend
// without it, or returning nil, gets the region's in-process lock alone.
// Either way the callers of one process coalesce in memory first, so only
// one of them touches the backend's Mutex.
type Locker interface {
	Mutex(key string) Mutex
}

// Mutex is a lock for one key (dogpile.cache's CacheMutex).
type Mutex interface {
	// Acquire takes the lock. With wait false it returns at once,
	// reporting whether it got the lock; with wait true it returns true
	// once it has the lock, or an error when ctx ends or the wait reaches
	// the backend's bound (wrapping ErrLockTimeout).
	Acquire(ctx context.Context, wait bool) (bool, error)
	// Release gives the lock up. A lock that expired before Release is
	// reported with an error wrapping ErrLockLost.
	Release(ctx context.Context) error
	// Locked reports whether anyone holds the lock.
	Locked(ctx context.Context) (bool, error)
}

// ExpirationAware is implemented by backends that derive a server-side
// time to live from their region's expiration time (zero: never). The
// region calls it once, when it is configured.
type ExpirationAware interface {
	SetRegionExpiration(d time.Duration)
}

// Evicter is implemented by backends that drop entries on their own: to
// stay within their bounds, or once an entry outlives the time to live the
// backend keeps itself. The region gives it, when it is configured, a
// function to call for each entry dropped, with the key as the backend
// holds it; the region reports them to its observer. The function is fast
// and safe to call from any goroutine; a backend serving several regions
// calls the last one given.
type Evicter interface {
	NotifyEvictions(f func(key string, expired bool))
}

// NearBackend is a BytesBackend that keeps entries in process, such as a
// near cache in front of a server. It keeps a Memo beside each entry held
// in process: the region stores in it the value it decoded from the
// entry, so that the next hit on the same entry skips the decode; an entry
// written anew gets a new Memo. And it reads past its process memory on
// demand: the region's re-read inside a creation (after taking a
// distributed lock, or once a creation finished meanwhile) uses
// GetBytesDirect, so that the dogpile lock stays exact whatever the delay
// of the near cache's invalidations.
type NearBackend interface {
	BytesBackend
	// GetBytesMemo is GetBytes, with the entry's Memo; nil when the entry
	// did not come from the backend's process memory.
	GetBytesMemo(ctx context.Context, key string) ([]byte, *Memo, bool, error)
	// GetBytesDirect is GetBytesMulti from the server itself, never from
	// process memory.
	GetBytesDirect(ctx context.Context, keys []string) ([][]byte, error)
}

// Memo holds the value a region decoded from one entry of a NearBackend.
// Its zero value is empty and ready to use; it is safe for concurrent use.
type Memo struct {
	v atomic.Pointer[any]
}

// Load returns the value stored, if any.
func (m *Memo) Load() (any, bool) {
	if p := m.v.Load(); p != nil {
		return *p, true
	}
	return nil, false
}

// Store keeps v, replacing what was stored.
func (m *Memo) Store(v any) { m.v.Store(&v) }
