package tmplcache_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

// countingBackend counts the calls a region makes to its backend, and
// the keys it writes.
type countingBackend struct {
	driver.ProxyBackend
	mu      sync.Mutex
	calls   map[string]int
	written []string
}

func (b *countingBackend) count(op string, keys ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.calls == nil {
		b.calls = map[string]int{}
	}
	b.calls[op]++
	if op == "set" || op == "set_multi" {
		b.written = append(b.written, keys...)
	}
}

// take returns the counts so far, as "op:n ..." sorted by op, and starts
// counting again.
func (b *countingBackend) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s string
	for _, op := range slices.Sorted(maps.Keys(b.calls)) {
		s += fmt.Sprintf("%s:%d ", op, b.calls[op])
	}
	b.calls = nil
	if s == "" {
		return "none"
	}
	return s[:len(s)-1]
}

// writtenKeys returns the keys written so far.
func (b *countingBackend) writtenKeys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.written)
}

func (b *countingBackend) Get(ctx context.Context, key string) (driver.CachedValue, bool, error) {
	b.count("get")
	return b.ProxyBackend.Get(ctx, key)
}

func (b *countingBackend) GetMulti(ctx context.Context, keys []string) ([]driver.CachedValue, error) {
	b.count("get_multi")
	return b.ProxyBackend.GetMulti(ctx, keys)
}

func (b *countingBackend) Set(ctx context.Context, key string, v driver.CachedValue) error {
	b.count("set", key)
	return b.ProxyBackend.Set(ctx, key, v)
}

func (b *countingBackend) SetMulti(ctx context.Context, items []driver.Item) error {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	b.count("set_multi", keys...)
	return b.ProxyBackend.SetMulti(ctx, items)
}

func (b *countingBackend) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	b.count("get")
	return b.ProxyBackend.GetBytes(ctx, key)
}

func (b *countingBackend) GetBytesMemo(ctx context.Context, key string) ([]byte, *driver.Memo, bool, error) {
	b.count("get")
	return b.ProxyBackend.GetBytesMemo(ctx, key)
}

func (b *countingBackend) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	b.count("get_multi")
	return b.ProxyBackend.GetBytesMulti(ctx, keys)
}

func (b *countingBackend) GetBytesDirect(ctx context.Context, keys []string) ([][]byte, error) {
	b.count("get_multi")
	return b.ProxyBackend.GetBytesDirect(ctx, keys)
}

func (b *countingBackend) SetBytes(ctx context.Context, key string, v []byte) error {
	b.count("set", key)
	return b.ProxyBackend.SetBytes(ctx, key, v)
}

func (b *countingBackend) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	b.count("set_multi", keys...)
	return b.ProxyBackend.SetBytesMulti(ctx, items)
}

func (b *countingBackend) Delete(ctx context.Context, key string) error {
	b.count("delete")
	return b.ProxyBackend.Delete(ctx, key)
}

func (b *countingBackend) DeleteMulti(ctx context.Context, keys []string) error {
	b.count("delete_multi")
	return b.ProxyBackend.DeleteMulti(ctx, keys)
}

// countedRegion returns a region on a memory backend, of Go values or of
// bytes, whose backend calls are counted.
func countedRegion(t testing.TB, bytes bool, opts ...dogpile.Option) (*dogpile.Region, *countingBackend) {
	t.Helper()
	var inner driver.Backend
	var err error
	if bytes {
		inner, err = memory.NewBytes(memory.Options{})
	} else {
		inner, err = memory.New(memory.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	var counted *countingBackend
	r := dogpile.NewRegion(opts...)
	err = r.ConfigureBackend(inner, dogpile.Config{
		ExpirationTime: time.Hour,
		Wrap: []driver.Proxy{func(next driver.Backend) driver.Backend {
			counted = &countingBackend{ProxyBackend: driver.ProxyBackend{Next: next}}
			return counted
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, counted
}

// backendKinds are the two kinds of memory backend the tests run on.
var backendKinds = []struct {
	name  string
	bytes bool
}{{"values", false}, {"bytes", true}}

// observeFunc is an observer told each operation's name.
func observeFunc(f func(ctx context.Context, op string)) observe.Observer {
	return observe.Func(func(ctx context.Context, e observe.Event) { f(ctx, e.Op.String()) })
}
