// Package memory holds the in-process backends: dogpile.cache.memory,
// which keeps Go values as they are, and dogpile.cache.memory_pickle,
// which keeps them as bytes in the wire format, encoded by the region's
// codec. Importing it registers both names.
package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The names this package registers.
const (
	Name      = "dogpile.cache.memory"
	BytesName = "dogpile.cache.memory_pickle"
)

func init() {
	driver.Register(Name, func(args driver.Arguments) (driver.Backend, error) {
		p := args.Parser(Name)
		b := New()
		if v, ok := p.Value("cache_dict"); ok {
			m, ok := v.(map[string]driver.CachedValue)
			if !ok {
				return nil, fmt.Errorf("%w: cache_dict is %T, want map[string]driver.CachedValue", driver.ErrInvalidArgument, v)
			}
			b.m = m
		}
		return b, p.Err()
	})
	driver.Register(BytesName, func(args driver.Arguments) (driver.Backend, error) {
		p := args.Parser(BytesName)
		b := NewBytes()
		if v, ok := p.Value("cache_dict"); ok {
			m, ok := v.(map[string][]byte)
			if !ok {
				return nil, fmt.Errorf("%w: cache_dict is %T, want map[string][]byte", driver.ErrInvalidArgument, v)
			}
			b.m = m
		}
		return b, p.Err()
	})
}

// Backend keeps Go values in a map, as they are: no encoding, no copy
// (dogpile.cache.memory). Values never leave it by themselves; expiry is
// the region's.
type Backend struct {
	mu sync.RWMutex
	m  map[string]driver.CachedValue
}

// New returns an empty Backend.
func New() *Backend { return &Backend{m: make(map[string]driver.CachedValue)} }

// Get returns the value under key.
func (b *Backend) Get(_ context.Context, key string) (driver.CachedValue, bool, error) {
	b.mu.RLock()
	v, ok := b.m[key]
	b.mu.RUnlock()
	return v, ok, nil
}

// GetMulti returns the values under keys; the zero CachedValue for a miss.
func (b *Backend) GetMulti(_ context.Context, keys []string) ([]driver.CachedValue, error) {
	out := make([]driver.CachedValue, len(keys))
	b.mu.RLock()
	for i, k := range keys {
		out[i] = b.m[k]
	}
	b.mu.RUnlock()
	return out, nil
}

// Set stores value under key.
func (b *Backend) Set(_ context.Context, key string, value driver.CachedValue) error {
	b.mu.Lock()
	b.m[key] = value
	b.mu.Unlock()
	return nil
}

// SetMulti stores every item.
func (b *Backend) SetMulti(_ context.Context, items []driver.Item) error {
	b.mu.Lock()
	for _, it := range items {
		b.m[it.Key] = it.Value
	}
	b.mu.Unlock()
	return nil
}

// Delete removes key.
func (b *Backend) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
	return nil
}

// DeleteMulti removes keys.
func (b *Backend) DeleteMulti(_ context.Context, keys []string) error {
	b.mu.Lock()
	for _, k := range keys {
		delete(b.m, k)
	}
	b.mu.Unlock()
	return nil
}

// Len returns the number of entries stored.
func (b *Backend) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}

// BytesBackend keeps entries in a map as bytes in the wire format,
// encoded by the region's codec (dogpile.cache.memory_pickle): slower
// than Backend, but values are copies, as with a remote backend.
type BytesBackend struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// NewBytes returns an empty BytesBackend.
func NewBytes() *BytesBackend { return &BytesBackend{m: make(map[string][]byte)} }

// GetBytes returns the entry under key.
func (b *BytesBackend) GetBytes(_ context.Context, key string) ([]byte, bool, error) {
	b.mu.RLock()
	v, ok := b.m[key]
	b.mu.RUnlock()
	return v, ok, nil
}

// GetBytesMulti returns the entries under keys; nil for a miss.
func (b *BytesBackend) GetBytesMulti(_ context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	b.mu.RLock()
	for i, k := range keys {
		out[i] = b.m[k]
	}
	b.mu.RUnlock()
	return out, nil
}

// SetBytes stores a copy of value under key.
func (b *BytesBackend) SetBytes(_ context.Context, key string, value []byte) error {
	v := append([]byte(nil), value...)
	b.mu.Lock()
	b.m[key] = v
	b.mu.Unlock()
	return nil
}

// SetBytesMulti stores a copy of every item.
func (b *BytesBackend) SetBytesMulti(_ context.Context, items []driver.BytesItem) error {
	b.mu.Lock()
	for _, it := range items {
		b.m[it.Key] = append([]byte(nil), it.Value...)
	}
	b.mu.Unlock()
	return nil
}

// Delete removes key.
func (b *BytesBackend) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
	return nil
}

// DeleteMulti removes keys.
func (b *BytesBackend) DeleteMulti(_ context.Context, keys []string) error {
	b.mu.Lock()
	for _, k := range keys {
		delete(b.m, k)
	}
	b.mu.Unlock()
	return nil
}
