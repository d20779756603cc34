package memory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// TestRegisteredNames: importing the package registers both names, each
// opening its own kind of backend.
func TestRegisteredNames(t *testing.T) {
	if memory.Name != "dogpile.cache.memory" || memory.BytesName != "dogpile.cache.memory_pickle" {
		t.Errorf("names %q and %q are not dogpile.cache's", memory.Name, memory.BytesName)
	}
	names := driver.Backends()
	for _, n := range []string{memory.Name, memory.BytesName} {
		if !slices.Contains(names, n) {
			t.Errorf("Backends() = %q lacks %s", names, n)
		}
	}
	b, err := driver.Open(memory.Name, nil)
	if _, ok := b.(*memory.Backend); err != nil || !ok {
		t.Errorf("Open(%s) = %T, %v", memory.Name, b, err)
	}
	if _, ok := b.(driver.ValueBackend); !ok {
		t.Errorf("%T is not a ValueBackend", b)
	}
	bb, err := driver.Open(memory.BytesName, driver.Arguments{})
	if _, ok := bb.(*memory.BytesBackend); err != nil || !ok {
		t.Errorf("Open(%s) = %T, %v", memory.BytesName, bb, err)
	}
	if _, ok := bb.(driver.BytesBackend); !ok {
		t.Errorf("%T is not a BytesBackend", bb)
	}
	// Each Open is a new, empty backend.
	other, _ := driver.Open(memory.Name, nil)
	if other == b {
		t.Error("Open returned the same backend twice")
	}
}

func TestUnknownArguments(t *testing.T) {
	for _, name := range []string{memory.Name, memory.BytesName} {
		_, err := driver.Open(name, driver.Arguments{"url": "x", "cache_size": 10})
		if !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), `["cache_size" "url"]`) ||
			!strings.HasPrefix(err.Error(), name+": ") {
			t.Errorf("Open(%s) with unknown arguments: %v", name, err)
		}
	}
}

// TestCacheDict: dogpile.cache.memory's cache_dict is the map the backend
// keeps its values in; memory_pickle's keeps entries of the wire format.
func TestCacheDict(t *testing.T) {
	ctx := context.Background()
	values := map[string]driver.CachedValue{}
	r := dogpile.NewRegion()
	if err := r.Configure(memory.Name, dogpile.Config{Arguments: map[string]any{"cache_dict": values}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if cv, ok := values["k"]; !ok || cv.Payload != "v" || cv.Metadata.Version != driver.ValueVersion {
		t.Errorf("cache_dict[k] = %#v, %v", cv, ok)
	}
	// Values put in the map beforehand are read.
	values["pre"] = driver.CachedValue{Payload: 7, Metadata: driver.Metadata{CreatedAt: time.Now(), Version: driver.ValueVersion}}
	if v, ok, err := dogpile.Get[int](ctx, r, "pre"); err != nil || !ok || v != 7 {
		t.Errorf("Get(pre) = %v, %v, %v", v, ok, err)
	}
	if n := driver.Unwrap(r.Backend()).(*memory.Backend).Len(); n != 2 {
		t.Errorf("Len() = %d, want 2", n)
	}

	raw := map[string][]byte{}
	rb := dogpile.NewRegion()
	if err := rb.Configure(memory.BytesName, dogpile.Config{Arguments: map[string]any{"cache_dict": raw}}); err != nil {
		t.Fatal(err)
	}
	if err := rb.Set(ctx, "k", map[string]int{"x": 1}); err != nil {
		t.Fatal(err)
	}
	md, payload, err := driver.DecodeEntry(raw["k"])
	if err != nil || md.Version != driver.ValueVersion || string(payload) != `{"x":1}` {
		t.Errorf("cache_dict[k] = %q: %v %q %v", raw["k"], md, payload, err)
	}

	// None is no cache_dict; a map of another kind is an error.
	for _, tc := range []struct {
		name string
		arg  any
		ok   bool
	}{
		{memory.Name, nil, true},
		{memory.BytesName, nil, true},
		{memory.Name, map[string][]byte{}, false},
		{memory.Name, map[string]any{}, false},
		{memory.BytesName, map[string]driver.CachedValue{}, false},
		{memory.BytesName, "None?", false},
	} {
		_, err := driver.Open(tc.name, driver.Arguments{"cache_dict": tc.arg})
		if tc.ok != (err == nil) {
			t.Errorf("Open(%s, cache_dict %T) = %v", tc.name, tc.arg, err)
		}
		if err != nil && (!errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), "cache_dict")) {
			t.Errorf("Open(%s, cache_dict %T) = %v, want ErrInvalidArgument naming cache_dict", tc.name, tc.arg, err)
		}
	}
}

// TestBytesBackendCopies: the bytes backend keeps copies, so that callers
// may reuse their buffers.
func TestBytesBackendCopies(t *testing.T) {
	ctx := context.Background()
	b := memory.NewBytes()
	buf := []byte("abc")
	if err := b.SetBytes(ctx, "k", buf); err != nil {
		t.Fatal(err)
	}
	items := []driver.BytesItem{{Key: "m", Value: []byte("xyz")}}
	if err := b.SetBytesMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	buf[0], items[0].Value[0] = 'Z', 'Z'
	if v, _, _ := b.GetBytes(ctx, "k"); string(v) != "abc" {
		t.Errorf("GetBytes(k) = %q after the caller changed its buffer", v)
	}
	vs, _ := b.GetBytesMulti(ctx, []string{"m", "missing"})
	if string(vs[0]) != "xyz" || vs[1] != nil {
		t.Errorf("GetBytesMulti = %q", vs)
	}
}

func TestLen(t *testing.T) {
	ctx := context.Background()
	b := memory.New()
	if b.Len() != 0 {
		t.Fatalf("new backend: Len() = %d", b.Len())
	}
	cv := driver.CachedValue{Payload: 1, Metadata: driver.Metadata{Version: driver.ValueVersion}}
	_ = b.Set(ctx, "a", cv)
	_ = b.SetMulti(ctx, []driver.Item{{Key: "b", Value: cv}, {Key: "a", Value: cv}})
	if b.Len() != 2 {
		t.Errorf("Len() = %d, want 2", b.Len())
	}
	_ = b.DeleteMulti(ctx, []string{"a", "missing"})
	_ = b.Delete(ctx, "b")
	if b.Len() != 0 {
		t.Errorf("Len() after the deletes = %d", b.Len())
	}
	if vs, err := b.GetMulti(ctx, []string{"a"}); err != nil || vs[0] != (driver.CachedValue{}) {
		t.Errorf("GetMulti of a deleted key = %v, %v; want the zero CachedValue", vs, err)
	}
}
