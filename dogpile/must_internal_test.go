package dogpile

import (
	"context"
	"sync"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// mustKey returns a key known to be computable; a test that hits an error
// here fails by the panic.
func mustKey[K any](k K, err error) K {
	if err != nil {
		panic(err)
	}
	return k
}

// mustStr is mustKey for ToStr.
func mustStr(s string, err error) string { return mustKey(s, err) }

// mapValues is a driver.ValueBackend over a map the test reads, to see
// the keys a region stores.
type mapValues struct {
	mu sync.Mutex
	m  map[string]driver.CachedValue
}

func (b *mapValues) Get(_ context.Context, k string) (driver.CachedValue, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[k]
	return v, ok, nil
}

func (b *mapValues) GetMulti(ctx context.Context, keys []string) ([]driver.CachedValue, error) {
	out := make([]driver.CachedValue, len(keys))
	for i, k := range keys {
		out[i], _, _ = b.Get(ctx, k)
	}
	return out, nil
}

func (b *mapValues) Set(_ context.Context, k string, v driver.CachedValue) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[k] = v
	return nil
}

func (b *mapValues) SetMulti(ctx context.Context, items []driver.Item) error {
	for _, it := range items {
		b.Set(ctx, it.Key, it.Value)
	}
	return nil
}

func (b *mapValues) Delete(_ context.Context, k string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
	return nil
}

func (b *mapValues) DeleteMulti(ctx context.Context, keys []string) error {
	for _, k := range keys {
		b.Delete(ctx, k)
	}
	return nil
}

// mapBytes is mapValues for entries as bytes.
type mapBytes struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *mapBytes) GetBytes(_ context.Context, k string) ([]byte, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[k]
	return v, ok, nil
}

func (b *mapBytes) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i], _, _ = b.GetBytes(ctx, k)
	}
	return out, nil
}

func (b *mapBytes) SetBytes(_ context.Context, k string, v []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[k] = append([]byte(nil), v...)
	return nil
}

func (b *mapBytes) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
	for _, it := range items {
		b.SetBytes(ctx, it.Key, it.Value)
	}
	return nil
}

func (b *mapBytes) Delete(_ context.Context, k string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
	return nil
}

func (b *mapBytes) DeleteMulti(ctx context.Context, keys []string) error {
	for _, k := range keys {
		b.Delete(ctx, k)
	}
	return nil
}
