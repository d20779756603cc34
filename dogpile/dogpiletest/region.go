package dogpiletest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The tests of the backend behind a region: dogpile.cache's generic
// backend suite, and what Go adds to it.
var regionTests = []test{
	{"SetGet", anyKind, testRegionSetGet},
	{"SetMultiGet", anyKind, testRegionSetMultiGet},
	{"GetMulti", anyKind, testRegionGetMulti},
	{"GetMultiMissing", anyKind, testRegionGetMultiMissing},
	{"EmptyMulti", anyKind, testRegionEmptyMulti},
	{"DeleteMulti", anyKind, testRegionDeleteMulti},
	{"SetGetNothing", anyKind, testRegionSetGetNothing},
	{"Delete", anyKind, testRegionDelete},
	{"Overwrite", anyKind, testRegionOverwrite},
	{"ZeroValues", anyKind, testRegionZeroValues},
	{"Keys", anyKind, testRegionKeys},
	{"GetOrCreate", anyKind, testRegionGetOrCreate},
	{"GetOrCreateMulti", anyKind, testRegionGetOrCreateMulti},
	{"GetOrCreateMultiShouldCacheNil", anyKind, testRegionShouldCacheNil},
	{"CreatorError", anyKind, testRegionCreatorError},
	{"Expiry", anyKind, testRegionExpiry},
	{"KeyIsLocked", anyKind, testRegionKeyIsLocked},
	{"NestedGetOrCreate", anyKind, testRegionNestedGetOrCreate},
	{"SharedInvalidation", anyKind, testRegionSharedInvalidation},
}

// plainRegion returns a region without expiry.
func (e *env) plainRegion() *dogpile.Region {
	e.t.Helper()
	return e.region(dogpile.Config{})
}

func (e *env) set(r *dogpile.Region, key string, v any) {
	e.t.Helper()
	if err := r.Set(e.ctx, key, v); err != nil {
		e.t.Fatalf("Set(%s): %v", e.show(key), err)
	}
}

func (e *env) setMulti(r *dogpile.Region, m map[string]any) {
	e.t.Helper()
	if err := r.SetMulti(e.ctx, m); err != nil {
		e.t.Fatalf("SetMulti(%v): %v", m, err)
	}
}

func (e *env) deleteMulti(r *dogpile.Region, keys ...string) {
	e.t.Helper()
	if err := r.DeleteMulti(e.ctx, keys); err != nil {
		e.t.Fatalf("DeleteMulti(%s): %v", e.showKeys(keys), err)
	}
}

// wantString checks Get of a string value; want nil for a miss.
func (e *env) wantString(r *dogpile.Region, key string, want *string, opts ...dogpile.CallOption) {
	e.t.Helper()
	v, ok, err := dogpile.Get[any](e.ctx, r, key, opts...)
	switch {
	case err != nil:
		e.t.Errorf("Get(%s): %v", e.show(key), err)
	case want == nil && ok:
		e.t.Errorf("Get(%s) = %#v, found; want a miss", e.show(key), v)
	case want != nil && !ok:
		e.t.Errorf("Get(%s): a miss; want %q", e.show(key), *want)
	case want != nil && v != *want:
		e.t.Errorf("Get(%s) = %#v; want %q", e.show(key), v, *want)
	}
}

// wantStrings checks GetMulti of string values; a nil want is a miss.
func (e *env) wantStrings(r *dogpile.Region, keys []string, want []*string, opts ...dogpile.CallOption) {
	e.t.Helper()
	vals, err := dogpile.GetMulti[any](e.ctx, r, keys, opts...)
	if err != nil {
		e.t.Errorf("GetMulti(%s): %v", e.showKeys(keys), err)
		return
	}
	for i := range keys {
		v, found := vals[keys[i]]
		switch {
		case want[i] == nil && found:
			e.t.Errorf("GetMulti: entry %d (%s) = %#v, found; want a miss", i, e.show(keys[i]), v)
		case want[i] != nil && !found:
			e.t.Errorf("GetMulti: entry %d (%s) is a miss; want %q", i, e.show(keys[i]), *want[i])
		case want[i] != nil && v != *want[i]:
			e.t.Errorf("GetMulti: entry %d (%s) = %#v; want %q", i, e.show(keys[i]), v, *want[i])
		}
	}
	if len(vals) > len(keys) {
		e.t.Errorf("GetMulti(%s) returned %d values for %d keys", e.showKeys(keys), len(vals), len(keys))
	}
}

func testRegionSetGet(e *env) {
	r := e.plainRegion()
	k := e.key("some_key")
	e.set(r, k, "some value")
	e.wantString(r, k, ptr("some value"))
}

func testRegionSetMultiGet(e *env) {
	r := e.plainRegion()
	k := e.keys("key1", "key2", "key3")
	e.setMulti(r, map[string]any{k[0]: "value1", k[1]: "value2", k[2]: "value3"})
	e.wantString(r, k[0], ptr("value1"))
	e.wantString(r, k[1], ptr("value2"))
	e.wantString(r, k[2], ptr("value3"))
}

func testRegionGetMulti(e *env) {
	r := e.plainRegion()
	k := e.keys("key1", "key2", "key3")
	e.set(r, k[0], "value1")
	e.set(r, k[1], "value2")
	e.set(r, k[2], "value3")
	e.wantStrings(r, k, []*string{ptr("value1"), ptr("value2"), ptr("value3")})
}

// testRegionGetMultiMissing is dogpile.cache's
// test_region_get_nothing_multiple.
func testRegionGetMultiMissing(e *env) {
	r := e.plainRegion()
	k := e.keys("key1", "key2", "key3", "key4", "key5", "key6")
	e.deleteMulti(r, k[:5]...)
	e.setMulti(r, map[string]any{k[0]: "value1", k[2]: "value3", k[4]: "value5"})
	e.wantStrings(r, k, []*string{ptr("value1"), nil, ptr("value3"), nil, ptr("value5"), nil})
}

func testRegionEmptyMulti(e *env) {
	r := e.plainRegion()
	for _, keys := range [][]string{nil, {}} {
		vals, err := dogpile.GetMulti[any](e.ctx, r, keys)
		if err != nil || len(vals) != 0 {
			e.t.Errorf("GetMulti(%#v) = %v, %v; want nothing and no error", keys, vals, err)
		}
		if err := r.DeleteMulti(e.ctx, keys); err != nil {
			e.t.Errorf("DeleteMulti(%#v): %v", keys, err)
		}
		called := false
		got, err := dogpile.GetOrCreateMulti(e.ctx, r, keys, func(context.Context, []string) (map[string]any, error) {
			called = true
			return map[string]any{"x": 0}, nil
		})
		if err != nil || len(got) != 0 || called {
			e.t.Errorf("GetOrCreateMulti(%#v) = %v, %v (creator called: %v); want nothing, no error, no call", keys, got, err, called)
		}
	}
	for _, m := range []map[string]any{nil, {}} {
		if err := r.SetMulti(e.ctx, m); err != nil {
			e.t.Errorf("SetMulti(%#v): %v", m, err)
		}
	}
}

// testRegionDeleteMulti is dogpile.cache's test_region_delete_multiple.
func testRegionDeleteMulti(e *env) {
	r := e.plainRegion()
	k := e.keys("key1", "key2", "key3", "key10")
	e.setMulti(r, map[string]any{k[0]: "value1", k[1]: "value2", k[2]: "value3"})
	e.deleteMulti(r, k[1], k[3])
	e.wantString(r, k[0], ptr("value1"))
	e.wantString(r, k[1], nil)
	e.wantString(r, k[2], ptr("value3"))
	e.wantString(r, k[3], nil)
}

func testRegionSetGetNothing(e *env) {
	r := e.plainRegion()
	k := e.key("some_key")
	e.deleteMulti(r, k)
	e.wantString(r, k, nil)
}

func testRegionDelete(e *env) {
	r := e.plainRegion()
	k := e.key("some_key")
	e.set(r, k, "some value")
	for range 2 {
		if err := r.Delete(e.ctx, k); err != nil {
			e.t.Fatalf("Delete(%s): %v", e.show(k), err)
		}
	}
	e.wantString(r, k, nil)
}

func testRegionOverwrite(e *env) {
	r := e.plainRegion()
	k := e.key("some_key")
	e.set(r, k, "value 1")
	e.set(r, k, "value 2")
	e.wantString(r, k, ptr("value 2"))
	e.setMulti(r, map[string]any{k: "value 3"})
	e.wantString(r, k, ptr("value 3"))
	got, err := dogpile.GetOrCreate(e.ctx, r, k, func(context.Context) (any, error) { return nil, errNotCached })
	if err != nil || got != "value 3" {
		e.t.Errorf("GetOrCreate(%s) = %#v, %v; want the stored %q", e.show(k), got, err, "value 3")
	}
}

func testRegionZeroValues(e *env) {
	r := e.plainRegion()
	checkZero(e, r, "int", 0)
	checkZero(e, r, "string", "")
	checkZero(e, r, "bool", false)
	checkZero(e, r, "slice", []string{})
	checkZero(e, r, "map", map[string]int{})
	checkZero[any](e, r, "nil", nil)
}

// checkZero checks that a zero value is stored and found, not taken for a
// miss: through Set and through a creator, and by every read.
func checkZero[T any](e *env, r *dogpile.Region, name string, want T) {
	e.t.Helper()
	k := e.key("zero_" + name)
	e.set(r, k, want)
	v, ok, err := dogpile.Get[any](e.ctx, r, k)
	switch {
	case err != nil:
		e.t.Errorf("%s: Get: %v", name, err)
	case !ok:
		e.t.Errorf("%s: Get(%#v stored): a miss", name, want)
	case e.kind == valueKind && !reflect.DeepEqual(v, any(want)):
		// A ValueBackend keeps Go values; a BytesBackend's codec may
		// turn them into other types when read untyped (JSON: 0 is a
		// float64), so only the typed read below applies to it.
		e.t.Errorf("%s: Get = %#v; want %#v", name, v, want)
	}
	if vals, err := dogpile.GetMulti[any](e.ctx, r, []string{k}); err != nil || len(vals) != 1 {
		e.t.Errorf("%s: GetMulti(%#v stored) = %v, %v; want it found", name, want, vals, err)
	}
	if got, err := read[T](e, r, k); err != nil || !reflect.DeepEqual(got, want) {
		e.t.Errorf("%s: GetOrCreate[%v] of the stored %#v = %#v, %v; want it without a creator call", name, reflect.TypeFor[T](), want, got, err)
	}
	if _, err := dogpile.GetOrCreate(e.ctx, r, k, func(context.Context) (any, error) { return nil, errNotCached }); err != nil {
		e.t.Errorf("%s: GetOrCreate of the stored %#v: %v", name, want, err)
	}

	// Created, then found.
	k2 := e.key("zero_created_" + name)
	calls := 0
	for range 2 {
		got, err := dogpile.GetOrCreate(e.ctx, r, k2, func(context.Context) (T, error) {
			calls++
			return want, nil
		})
		if err != nil || !reflect.DeepEqual(got, want) {
			e.t.Errorf("%s: GetOrCreate[%v] = %#v, %v; want %#v", name, reflect.TypeFor[T](), got, err, want)
		}
	}
	if calls != 1 {
		e.t.Errorf("%s: the creator of %#v ran %d times in two GetOrCreate calls; want once (the created zero value was not found)", name, want, calls)
	}
}

func testRegionKeys(e *env) {
	r := e.plainRegion()
	names := e.oddKeyNames()
	keys := e.keys(names...)
	want := make([]*string, len(keys))
	for i, k := range keys {
		want[i] = ptr(fmt.Sprintf("value %d", i))
		e.set(r, k, *want[i])
	}
	for i, k := range keys {
		e.wantString(r, k, want[i])
	}
	e.wantStrings(r, keys, want)

	// Created under odd keys.
	keys2 := make([]string, len(names))
	for i, n := range names {
		keys2[i] = e.key("created " + n)
	}
	for i, k := range keys2 {
		got, err := dogpile.GetOrCreate(e.ctx, r, k, func(context.Context) (any, error) { return fmt.Sprint("created ", i), nil })
		if err != nil || got != fmt.Sprint("created ", i) {
			e.t.Errorf("GetOrCreate(%s) = %#v, %v", e.show(k), got, err)
		}
	}
	got, err := dogpile.GetOrCreateMulti(e.ctx, r, keys2, func(context.Context, []string) (map[string]any, error) { return nil, errNotCached })
	if err != nil {
		e.t.Fatalf("GetOrCreateMulti of created odd keys: %v", err)
	}
	for i, k := range keys2 {
		if got[k] != fmt.Sprint("created ", i) {
			e.t.Errorf("GetOrCreateMulti: entry %d (%s) = %#v; want %q", i, e.show(k), got[k], fmt.Sprint("created ", i))
		}
	}
}

func testRegionGetOrCreate(e *env) {
	r := e.plainRegion()
	k := e.key("some_key")
	calls := 0
	for range 3 {
		got, err := dogpile.GetOrCreate(e.ctx, r, k, func(context.Context) (any, error) {
			calls++
			return "some value", nil
		})
		if err != nil || got != "some value" {
			e.t.Errorf("GetOrCreate(%s) = %#v, %v; want %q", e.show(k), got, err, "some value")
		}
	}
	if calls != 1 {
		e.t.Errorf("the creator ran %d times in three calls; want once", calls)
	}
	e.wantString(r, k, ptr("some value"))

	// The typed form reads what the untyped one stored.
	s, err := read[string](e, r, k)
	if err != nil || s != "some value" {
		e.t.Errorf("GetOrCreate[string](%s) = %q, %v; want %q", e.show(k), s, err, "some value")
	}
}

func testRegionGetOrCreateMulti(e *env) {
	r := e.plainRegion()
	a, b, c, d := e.key("a"), e.key("b"), e.key("c"), e.key("d")
	e.set(r, b, "stored b")
	var asked [][]string
	creator := func(_ context.Context, keys []string) (map[string]any, error) {
		asked = append(asked, slices.Clone(keys))
		out := make(map[string]any, len(keys))
		for _, k := range keys {
			out[k] = "created " + strings.TrimPrefix(k, e.prefix)
		}
		return out, nil
	}
	keys := []string{a, b, c, a, d}
	want := map[string]any{a: "created a", b: "stored b", c: "created c", d: "created d"}
	got, err := dogpile.GetOrCreateMulti(e.ctx, r, keys, creator)
	if err != nil || !reflect.DeepEqual(got, want) {
		e.t.Errorf("GetOrCreateMulti(%s) = %#v, %v; want %#v", e.showKeys(keys), got, err, want)
	}
	// Only the missing keys, once each, in the caller's order.
	if wantAsked := [][]string{{a, c, d}}; !reflect.DeepEqual(asked, wantAsked) {
		shown := make([]string, len(asked))
		for i, keys := range asked {
			shown[i] = e.showKeys(keys)
		}
		e.t.Errorf("the creator was called with %v; want one call with %s", shown, e.showKeys(wantAsked[0]))
	}
	e.wantStrings(r, []string{a, b, c, d}, []*string{ptr("created a"), ptr("stored b"), ptr("created c"), ptr("created d")})

	asked = nil
	got, err = dogpile.GetOrCreateMulti(e.ctx, r, keys, creator)
	if err != nil || !reflect.DeepEqual(got, want) {
		e.t.Errorf("second GetOrCreateMulti(%s) = %#v, %v; want %#v", e.showKeys(keys), got, err, want)
	}
	if asked != nil {
		e.t.Errorf("second GetOrCreateMulti called the creator %d times; want no call", len(asked))
	}

	// The typed form.
	strs, err := dogpile.GetOrCreateMulti(e.ctx, r, []string{d, b}, func(context.Context, []string) (map[string]string, error) {
		return nil, errNotCached
	})
	if err != nil || !reflect.DeepEqual(strs, map[string]string{d: "created d", b: "stored b"}) {
		e.t.Errorf("GetOrCreateMulti[string] = %q, %v", strs, err)
	}
}

// testRegionShouldCacheNil is dogpile.cache's
// test_region_get_or_create_multi_w_should_cache_none.
func testRegionShouldCacheNil(e *env) {
	r := e.plainRegion()
	k := e.keys("key1", "key2", "key3")
	notNil := dogpile.ShouldCache(func(v any) bool { return v != nil })
	calls := 0
	for range 2 {
		got, err := dogpile.GetOrCreateMulti(e.ctx, r, k, func(_ context.Context, keys []string) (map[string]any, error) {
			calls++
			out := make(map[string]any, len(keys))
			for _, k := range keys {
				out[k] = nil
			}
			return out, nil
		}, notNil)
		if err != nil || !reflect.DeepEqual(got, map[string]any{k[0]: nil, k[1]: nil, k[2]: nil}) {
			e.t.Errorf("GetOrCreateMulti = %#v, %v; want a nil value for each key", got, err)
		}
	}
	if calls != 2 {
		e.t.Errorf("the creator ran %d times in two calls; want twice (nothing cached)", calls)
	}
	e.wantStrings(r, k, []*string{nil, nil, nil})

	// The single form.
	one := e.key("single")
	got, err := dogpile.GetOrCreate(e.ctx, r, one, func(context.Context) (any, error) { return nil, nil }, notNil)
	if err != nil || got != nil {
		e.t.Errorf("GetOrCreate = %#v, %v; want nil", got, err)
	}
	e.wantString(r, one, nil)
}

func testRegionCreatorError(e *env) {
	r := e.plainRegion()
	boom := errors.New("boom")
	k := e.key("some_key")
	_, err := dogpile.GetOrCreate(e.ctx, r, k, func(context.Context) (any, error) { return nil, boom })
	if !errors.Is(err, boom) {
		e.t.Errorf("GetOrCreate with a failing creator: error %v; want one wrapping %v", err, boom)
	}
	e.wantString(r, k, nil)
	got, err := dogpile.GetOrCreate(e.ctx, r, k, func(context.Context) (any, error) { return "some value", nil })
	if err != nil || got != "some value" {
		e.t.Errorf("GetOrCreate after a failed creation = %#v, %v; want %q", got, err, "some value")
	}

	keys := e.keys("multi1", "multi2")
	_, err = dogpile.GetOrCreateMulti(e.ctx, r, keys, func(context.Context, []string) (map[string]any, error) { return nil, boom })
	if !errors.Is(err, boom) {
		e.t.Errorf("GetOrCreateMulti with a failing creator: error %v; want one wrapping %v", err, boom)
	}
	e.wantStrings(r, keys, []*string{nil, nil})

	_, err = dogpile.GetOrCreate(e.ctx, r, e.key("typed"), func(context.Context) (int, error) { return 0, boom })
	if !errors.Is(err, boom) {
		e.t.Errorf("GetOrCreate[int] with a failing creator: error %v; want one wrapping %v", err, boom)
	}
}

// testRegionExpiry is dogpile.cache's test_region_expire on a fake clock.
func testRegionExpiry(e *env) {
	r, clk := e.fakeClockRegion()
	k := e.key("some_key")
	var calls atomic.Int32
	create := func(context.Context) (any, error) {
		return fmt.Sprint("some value ", calls.Add(1)), nil
	}
	getOrCreate := func(want string) {
		e.t.Helper()
		got, err := dogpile.GetOrCreate(e.ctx, r, k, create)
		if err != nil || got != want {
			e.t.Errorf("GetOrCreate = %#v, %v; want %q", got, err, want)
		}
	}
	getOrCreate("some value 1")

	// Expiry is strict: at exactly the expiration time the value is fresh.
	clk.Advance(expiration)
	getOrCreate("some value 1")
	e.wantString(r, k, ptr("some value 1"))

	clk.Advance(time.Second)
	e.wantString(r, k, nil)
	e.wantStrings(r, []string{k}, []*string{nil})
	if v, ok, err := dogpile.Get[any](e.ctx, r, k, dogpile.IgnoreExpiration()); err != nil || (ok && v != "some value 1") || (!ok && !e.opts.Evicts) {
		e.t.Errorf("Get(IgnoreExpiration) of the expired value = %#v, %v, %v; want %q", v, ok, err, "some value 1")
	}
	if !e.opts.Evicts {
		e.wantStrings(r, []string{k}, []*string{ptr("some value 1")}, dogpile.IgnoreExpiration())
	}

	getOrCreate("some value 2")
	e.wantString(r, k, ptr("some value 2"))
	getOrCreate("some value 2")
	if n := calls.Load(); n != 2 {
		e.t.Errorf("the creator ran %d times; want twice", n)
	}
}

func testRegionKeyIsLocked(e *env) {
	r := e.plainRegion()
	k := e.key("some_key")
	e.wantString(r, k, nil)
	// Asking must not take the lock.
	for range 2 {
		e.wantLocked(r, k, false)
	}

	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan result, 1)
	go func() {
		v, err := dogpile.GetOrCreate(e.ctx, r, k, func(context.Context) (any, error) {
			close(entered)
			<-release
			return "some value", nil
		})
		done <- result{v, err}
	}()
	wait(e, entered, "the creator to start")
	e.wantLocked(r, k, true)
	e.wantLocked(r, e.key("other_key"), false)
	close(release)
	res := wait(e, done, "GetOrCreate to return")
	if res.err != nil || res.v != "some value" {
		e.t.Errorf("GetOrCreate = %#v, %v; want %q", res.v, res.err, "some value")
	}
	e.wantLocked(r, k, false)
}

func (e *env) wantLocked(r *dogpile.Region, key string, want bool) {
	e.t.Helper()
	got, err := r.KeyIsLocked(e.ctx, key)
	if err != nil || got != want {
		e.t.Errorf("KeyIsLocked(%s) = %v, %v; want %v", e.show(key), got, err, want)
	}
}

// testRegionNestedGetOrCreate is dogpile.cache's test_reentrant_dogpile: a
// creator may get-or-create another key.
func testRegionNestedGetOrCreate(e *env) {
	r := e.plainRegion()
	foo, bar := e.key("foo"), e.key("bar")
	for range 2 {
		got, err := dogpile.GetOrCreate(e.ctx, r, foo, func(ctx context.Context) (any, error) {
			inner, err := dogpile.GetOrCreate(ctx, r, bar, func(context.Context) (any, error) { return "bar", nil })
			if err != nil {
				return nil, err
			}
			return "foo" + fmt.Sprint(inner), nil
		})
		if err != nil || got != "foobar" {
			e.t.Errorf("nested GetOrCreate = %#v, %v; want %q", got, err, "foobar")
		}
	}
}

// testRegionSharedInvalidation: two regions on two backends from New (two
// clients of one server, as two processes have) share their invalidation
// times through the backend with dogpile.SharedInvalidation, so a hard
// invalidation in one retires the values the other reads once its view of
// the times is older than Refresh. Backends from New that do not share
// their storage (in-memory ones) skip it.
func testRegionSharedInvalidation(e *env) {
	other := e.opts.New(e.t)
	probe := e.key("probe")
	e.set(e.plainRegion(), probe, "shared?")
	if _, ok, err := dogpile.Get[any](e.ctx, e.regionOn(other, dogpile.Config{}), probe); err != nil || !ok {
		e.t.Skipf("two backends from Options.New do not share their storage (%v): nothing to share invalidation through", err)
	}

	clk := newClock()
	inv := e.prefix + "invalidation"
	e.key("invalidation:hard")
	e.key("invalidation:soft")
	region := func(b driver.Backend) *dogpile.Region {
		return e.regionOn(b, dogpile.Config{
			ExpirationTime: expiration,
			Invalidator:    &dogpile.SharedInvalidation{Key: inv, Refresh: time.Second},
		}, dogpile.WithClock(clk.Now))
	}
	a, z := region(e.b), region(other)
	k := e.key("value")
	e.set(a, k, "before")
	e.wantString(z, k, ptr("before"))

	clk.Advance(time.Millisecond) // invalidation retires values strictly older
	if err := a.Invalidate(e.ctx, true); err != nil {
		e.t.Fatalf("Invalidate: %v", err)
	}
	e.wantString(a, k, nil)
	clk.Advance(2 * time.Second) // the other region's view is now stale
	deadline := time.Now().Add(waitLimit)
	for {
		_, ok, err := dogpile.Get[any](e.ctx, z, k)
		if err != nil {
			e.t.Fatalf("Get in the other region: %v", err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the other region still reads the invalidated value after %v", waitLimit)
		}
		time.Sleep(time.Millisecond) // its refresh runs in the background
	}
	// The value is still there for IgnoreExpiration: invalidation deletes
	// nothing.
	if !e.opts.Evicts {
		e.wantString(z, k, ptr("before"), dogpile.IgnoreExpiration())
	}
}
