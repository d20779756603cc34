package dogpile_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// nearFake is a driver.NearBackend over a map: one Memo per entry, a new
// one when the entry is written, a lock of its own, and a count of the
// reads that go past it.
type nearFake struct {
	mu     sync.Mutex
	m      map[string][]byte
	memos  map[string]*driver.Memo
	direct atomic.Int32
	locks  sync.Map // key → *sync.Mutex
}

func newNearFake() *nearFake {
	return &nearFake{m: map[string][]byte{}, memos: map[string]*driver.Memo{}}
}

func (n *nearFake) GetBytes(_ context.Context, key string) ([]byte, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b, ok := n.m[key]
	return b, ok, nil
}

func (n *nearFake) GetBytesMulti(_ context.Context, keys []string) ([][]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = n.m[k]
	}
	return out, nil
}

func (n *nearFake) SetBytes(_ context.Context, key string, v []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.m[key] = append([]byte(nil), v...)
	delete(n.memos, key)
	return nil
}

func (n *nearFake) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
	for _, it := range items {
		n.SetBytes(ctx, it.Key, it.Value)
	}
	return nil
}

func (n *nearFake) Delete(_ context.Context, key string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.m, key)
	delete(n.memos, key)
	return nil
}

func (n *nearFake) DeleteMulti(ctx context.Context, keys []string) error {
	for _, k := range keys {
		n.Delete(ctx, k)
	}
	return nil
}

func (n *nearFake) GetBytesMemo(ctx context.Context, key string) ([]byte, *driver.Memo, bool, error) {
	b, ok, err := n.GetBytes(ctx, key)
	if !ok || err != nil {
		return b, nil, ok, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.memos[key]
	if m == nil {
		m = new(driver.Memo)
		n.memos[key] = m
	}
	return b, m, true, nil
}

func (n *nearFake) GetBytesDirect(ctx context.Context, keys []string) ([][]byte, error) {
	n.direct.Add(1)
	return n.GetBytesMulti(ctx, keys)
}

func (n *nearFake) Mutex(key string) driver.Mutex {
	m, _ := n.locks.LoadOrStore(key, new(sync.Mutex))
	return nearFakeMutex{m.(*sync.Mutex)}
}

type nearFakeMutex struct{ m *sync.Mutex }

func (l nearFakeMutex) Acquire(_ context.Context, wait bool) (bool, error) {
	if wait {
		l.m.Lock()
		return true, nil
	}
	return l.m.TryLock(), nil
}
func (l nearFakeMutex) Release(context.Context) error { l.m.Unlock(); return nil }
func (l nearFakeMutex) Locked(context.Context) (bool, error) {
	if l.m.TryLock() {
		l.m.Unlock()
		return false, nil
	}
	return true, nil
}

// countingCodec is JSON, counting its Unmarshal calls.
type countingCodec struct{ decodes atomic.Int32 }

func (c *countingCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }
func (c *countingCodec) Unmarshal(b []byte, v any) error {
	c.decodes.Add(1)
	return dogpile.JSON.Unmarshal(b, v)
}

// TestNearCacheKeepsDecodedValues: a hit on a near cache's entry decodes
// it once per type; values callers could change (slices, maps, pointers)
// are decoded on every hit; a new entry is decoded again.
func TestNearCacheKeepsDecodedValues(t *testing.T) {
	ctx := context.Background()
	codec := &countingCodec{}
	near := newNearFake()
	r := dogpile.NewRegion(dogpile.WithCodec(codec))
	if err := r.ConfigureBackend(near, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context) (string, error) { t.Fatal("creator called"); return "", nil }
	if err := r.Set(ctx, "frag", "<p>hello</p>"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if v, err := dogpile.GetOrCreate(ctx, r, "frag", fail); err != nil || v != "<p>hello</p>" {
			t.Fatalf("GetOrCreate = %q, %v", v, err)
		}
	}
	if n := codec.decodes.Load(); n != 1 {
		t.Errorf("5 hits decoded the string %d times, want once", n)
	}
	// As another type, decoded again (a JSON string read as any is a
	// string too, but a number would not be: values are kept by type).
	codec.decodes.Store(0)
	for range 3 {
		if v, err := dogpile.GetOrCreate(ctx, r, "frag", func(context.Context) (any, error) { return nil, nil }); err != nil || v != "<p>hello</p>" {
			t.Fatalf("GetOrCreate[any] = %v, %v", v, err)
		}
	}
	if n := codec.decodes.Load(); n != 1 {
		t.Errorf("3 hits as any decoded %d times, want once", n)
	}
	// A slice is not shared: every hit decodes its own copy.
	if err := r.Set(ctx, "list", []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	codec.decodes.Store(0)
	for range 3 {
		got, err := dogpile.GetOrCreate(ctx, r, "list", func(context.Context) ([]string, error) { return nil, nil })
		if err != nil || len(got) != 2 {
			t.Fatalf("GetOrCreate([]string) = %v, %v", got, err)
		}
		got[0] = "changed by a caller"
	}
	if n := codec.decodes.Load(); n != 3 {
		t.Errorf("3 hits of a slice decoded %d times, want 3 (never shared)", n)
	}
	// A new entry gets a new Memo: decoded again, with its new value.
	if err := r.Set(ctx, "frag", "<p>bye</p>"); err != nil {
		t.Fatal(err)
	}
	codec.decodes.Store(0)
	if v, err := dogpile.GetOrCreate(ctx, r, "frag", fail); err != nil || v != "<p>bye</p>" || codec.decodes.Load() != 1 {
		t.Errorf("after a write: %q, %v, %d decodes; want the new value, decoded once", v, err, codec.decodes.Load())
	}
}

// TestNearCacheRereadGoesDirect: the re-read after taking the backend's
// lock reads past the near cache, which may not have heard of another
// process's write yet; plain reads do not.
func TestNearCacheRereadGoesDirect(t *testing.T) {
	ctx := context.Background()
	near := newNearFake()
	r := dogpile.NewRegion()
	if err := r.ConfigureBackend(near, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "a", func(context.Context) (string, error) { return "a", nil }); err != nil {
		t.Fatal(err)
	}
	if n := near.direct.Load(); n != 1 {
		t.Errorf("a creation under the backend's lock read past the near cache %d times, want once", n)
	}
	for range 3 {
		if _, err := dogpile.GetOrCreate(ctx, r, "a", func(context.Context) (string, error) { return "", nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := near.direct.Load(); n != 1 {
		t.Errorf("hits read past the near cache: %d direct reads, want still 1", n)
	}
}
