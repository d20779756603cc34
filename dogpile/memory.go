package dogpile

import (
	"context"
	"fmt"
	"maps"
	"sync"
)

func init() {
	Register("dogpile.cache.memory", newMemoryFromArgs)
	Register("dogpile.cache.memory_pickle", newMemoryBytesFromArgs)
}

// MemoryBackend keeps Go values in a map, as they are: no encoding, no
// copy (dogpile.cache.memory). Values never leave it by themselves; expiry
// is the region's. Registered as "dogpile.cache.memory" with the optional
// argument cache_dict, a map[string]CachedValue it takes over.
type MemoryBackend struct {
	mu sync.RWMutex
	m  map[string]CachedValue
}

// NewMemoryBackend returns an empty MemoryBackend.
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{m: make(map[string]CachedValue)}
}

func newMemoryFromArgs(args Arguments) (Backend, error) {
	p := args.Parser("dogpile.cache.memory")
	b := NewMemoryBackend()
	if v, ok := p.Value("cache_dict"); ok {
		m, ok := v.(map[string]CachedValue)
		if !ok {
			return nil, fmt.Errorf("%w: cache_dict is %T, want map[string]dogpile.CachedValue", ErrInvalidArgument, v)
		}
		b.m = m
	}
	return b, p.Err()
}

// Get returns the value under key.
func (b *MemoryBackend) Get(_ context.Context, key string) (CachedValue, bool, error) {
	b.mu.RLock()
	v, ok := b.m[key]
	b.mu.RUnlock()
	return v, ok, nil
}

// GetMulti returns the values under keys; the zero CachedValue for a miss.
func (b *MemoryBackend) GetMulti(_ context.Context, keys []string) ([]CachedValue, error) {
	out := make([]CachedValue, len(keys))
	b.mu.RLock()
	for i, k := range keys {
		out[i] = b.m[k]
	}
	b.mu.RUnlock()
	return out, nil
}

// Set stores value under key.
func (b *MemoryBackend) Set(_ context.Context, key string, value CachedValue) error {
	b.mu.Lock()
	b.m[key] = value
	b.mu.Unlock()
	return nil
}

// SetMulti stores every item.
func (b *MemoryBackend) SetMulti(_ context.Context, items []Item) error {
	b.mu.Lock()
	for _, it := range items {
		b.m[it.Key] = it.Value
	}
	b.mu.Unlock()
	return nil
}

// Delete removes key.
func (b *MemoryBackend) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
	return nil
}

// DeleteMulti removes keys.
func (b *MemoryBackend) DeleteMulti(_ context.Context, keys []string) error {
	b.mu.Lock()
	for _, k := range keys {
		delete(b.m, k)
	}
	b.mu.Unlock()
	return nil
}

// Keys returns the keys stored, in no particular order.
func (b *MemoryBackend) Keys() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	keys := make([]string, 0, len(b.m))
	for k := range maps.Keys(b.m) {
		keys = append(keys, k)
	}
	return keys
}

// MemoryBytesBackend keeps entries in a map as bytes in the wire format,
// encoded by the region's codec (dogpile.cache.memory_pickle): slower than
// MemoryBackend, but values are copies, as with a remote backend.
// Registered as "dogpile.cache.memory_pickle" with the optional argument
// cache_dict, a map[string][]byte it takes over.
type MemoryBytesBackend struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// NewMemoryBytesBackend returns an empty MemoryBytesBackend.
func NewMemoryBytesBackend() *MemoryBytesBackend {
	return &MemoryBytesBackend{m: make(map[string][]byte)}
}

func newMemoryBytesFromArgs(args Arguments) (Backend, error) {
	p := args.Parser("dogpile.cache.memory_pickle")
	b := NewMemoryBytesBackend()
	if v, ok := p.Value("cache_dict"); ok {
		m, ok := v.(map[string][]byte)
		if !ok {
			return nil, fmt.Errorf("%w: cache_dict is %T, want map[string][]byte", ErrInvalidArgument, v)
		}
		b.m = m
	}
	return b, p.Err()
}

// GetBytes returns the entry under key.
func (b *MemoryBytesBackend) GetBytes(_ context.Context, key string) ([]byte, bool, error) {
	b.mu.RLock()
	v, ok := b.m[key]
	b.mu.RUnlock()
	return v, ok, nil
}

// GetBytesMulti returns the entries under keys; nil for a miss.
func (b *MemoryBytesBackend) GetBytesMulti(_ context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	b.mu.RLock()
	for i, k := range keys {
		out[i] = b.m[k]
	}
	b.mu.RUnlock()
	return out, nil
}

// SetBytes stores a copy of value under key.
func (b *MemoryBytesBackend) SetBytes(_ context.Context, key string, value []byte) error {
	v := append([]byte(nil), value...)
	b.mu.Lock()
	b.m[key] = v
	b.mu.Unlock()
	return nil
}

// SetBytesMulti stores a copy of every item.
func (b *MemoryBytesBackend) SetBytesMulti(_ context.Context, items []BytesItem) error {
	b.mu.Lock()
	for _, it := range items {
		b.m[it.Key] = append([]byte(nil), it.Value...)
	}
	b.mu.Unlock()
	return nil
}

// Delete removes key.
func (b *MemoryBytesBackend) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
	return nil
}

// DeleteMulti removes keys.
func (b *MemoryBytesBackend) DeleteMulti(_ context.Context, keys []string) error {
	b.mu.Lock()
	for _, k := range keys {
		delete(b.m, k)
	}
	b.mu.Unlock()
	return nil
}
