package null_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/null"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

func TestRegisteredName(t *testing.T) {
	if null.Name != "dogpile.cache.null" {
		t.Errorf("Name = %q, not dogpile.cache's", null.Name)
	}
	if !slices.Contains(driver.Backends(), null.Name) {
		t.Errorf("Backends() = %q lacks %s", driver.Backends(), null.Name)
	}
	b, err := driver.Open(null.Name, nil)
	if _, ok := b.(null.Backend); err != nil || !ok {
		t.Errorf("Open = %T, %v", b, err)
	}
	var _ driver.ValueBackend = null.Backend{}
	var _ driver.Locker = null.Backend{}
}

func TestUnknownArguments(t *testing.T) {
	_, err := driver.Open(null.Name, driver.Arguments{"host": "h"})
	if !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), `"host"`) ||
		!strings.HasPrefix(err.Error(), null.Name+": ") {
		t.Errorf("Open with an unknown argument: %v", err)
	}
	if _, err := driver.Open(null.Name, driver.Arguments{}); err != nil {
		t.Errorf("Open with no arguments: %v", err)
	}
}

// TestStoresNothing: every read misses, whatever was written.
func TestStoresNothing(t *testing.T) {
	ctx := context.Background()
	var b null.Backend
	cv := driver.CachedValue{Payload: 1, Metadata: driver.Metadata{Version: driver.ValueVersion}}
	if err := b.Set(ctx, "k", cv); err != nil {
		t.Fatal(err)
	}
	if err := b.SetMulti(ctx, []driver.Item{{Key: "k", Value: cv}}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := b.Get(ctx, "k"); ok || err != nil || v != (driver.CachedValue{}) {
		t.Errorf("Get = %v, %v, %v", v, ok, err)
	}
	vs, err := b.GetMulti(ctx, []string{"k", "j"})
	if err != nil || len(vs) != 2 || vs[0] != (driver.CachedValue{}) || vs[1] != (driver.CachedValue{}) {
		t.Errorf("GetMulti = %v, %v", vs, err)
	}
	if err := b.Delete(ctx, "k"); err != nil {
		t.Error(err)
	}
	if err := b.DeleteMulti(ctx, []string{"k"}); err != nil {
		t.Error(err)
	}
}

// TestLockNeverExcludes: the lock is always free and never held.
func TestLockNeverExcludes(t *testing.T) {
	ctx := context.Background()
	m1, m2 := null.Backend{}.Mutex("k"), null.Backend{}.Mutex("k")
	for _, m := range []driver.Mutex{m1, m2} {
		for _, wait := range []bool{false, true} {
			if ok, err := m.Acquire(ctx, wait); !ok || err != nil {
				t.Errorf("Acquire(wait=%v) = %v, %v", wait, ok, err)
			}
		}
	}
	if locked, err := m1.Locked(ctx); locked || err != nil {
		t.Errorf("Locked = %v, %v", locked, err)
	}
	if err := m1.Release(ctx); err != nil {
		t.Error(err)
	}
}

// TestRegionCallsTheCreatorEveryTime: through a region, every GetOrCreate
// creates.
func TestRegionCallsTheCreatorEveryTime(t *testing.T) {
	ctx := context.Background()
	r := dogpile.NewRegion()
	if err := r.Configure(null.Name, dogpile.Config{}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	for i := range 3 {
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int64, error) { return calls.Add(1), nil })
		if err != nil || v != int64(i+1) {
			t.Fatalf("GetOrCreate %d = %d, %v", i, v, err)
		}
	}
	if _, ok, err := dogpile.Get[int64](ctx, r, "k"); ok || err != nil {
		t.Errorf("Get = %v, %v; want a miss", ok, err)
	}
	if locked, err := r.KeyIsLocked(ctx, "k"); locked || err != nil {
		t.Errorf("KeyIsLocked = %v, %v", locked, err)
	}
}
