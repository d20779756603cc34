package memory_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

var ctx = context.Background()

// quiet keeps the regions' warnings out of the test output.
var quiet = dogpile.WithLogger(slog.New(slog.DiscardHandler))

// value is a CachedValue of the region's version created at t.
func value(payload any, t time.Time) driver.CachedValue {
	return driver.CachedValue{Payload: payload, Metadata: driver.Metadata{CreatedAt: t, Version: driver.ValueVersion}}
}

func mustNew(t testing.TB, o memory.Options) *memory.Backend {
	t.Helper()
	b, err := memory.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustNewBytes(t testing.TB, o memory.Options) *memory.BytesBackend {
	t.Helper()
	b, err := memory.NewBytes(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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
	for _, x := range []driver.Backend{b, bb} {
		if _, ok := x.(driver.Evicter); !ok {
			t.Errorf("%T is not an Evicter", x)
		}
		if _, ok := x.(driver.ExpirationAware); !ok {
			t.Errorf("%T is not ExpirationAware", x)
		}
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

// TestCacheDictRefused: dogpile.cache's cache_dict cannot be the storage
// of a bounded cache, so a map is refused with an error that says why;
// None, Python's default, is accepted.
func TestCacheDictRefused(t *testing.T) {
	for _, name := range []string{memory.Name, memory.BytesName} {
		for _, arg := range []any{map[string]driver.CachedValue{}, map[string][]byte{}, map[string]any{"k": 1}, "None?"} {
			_, err := driver.Open(name, driver.Arguments{"cache_dict": arg})
			if !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), `"cache_dict" is not supported`) ||
				!strings.Contains(err.Error(), "max_size") {
				t.Errorf("Open(%s, cache_dict %T) = %v, want ErrInvalidArgument refusing cache_dict", name, arg, err)
			}
		}
		if _, err := driver.Open(name, driver.Arguments{"cache_dict": nil}); err != nil {
			t.Errorf("Open(%s, cache_dict None) = %v", name, err)
		}
	}
}

// TestArguments: max_size, max_bytes and memory_expiration_time reach the
// backend; values out of range are errors naming the argument.
func TestArguments(t *testing.T) {
	r := dogpile.NewRegion(quiet)
	err := r.Configure(memory.Name, dogpile.Config{
		ExpirationTime: time.Minute,
		Arguments:      map[string]any{"max_size": "3", "max_bytes": "1 KiB"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := driver.Unwrap(r.Backend()).(*memory.Backend)
	if b.TTL() != 2*time.Minute {
		t.Errorf("derived TTL = %v, want 2m", b.TTL())
	}
	for i := range 10 {
		if err := r.Set(ctx, string(rune('a'+i)), i); err != nil {
			t.Fatal(err)
		}
	}
	b.CleanUp()
	if n := b.Len(); n > 3 {
		t.Errorf("max_size 3: Len() = %d", n)
	}
	if err := r.Set(ctx, "big", strings.Repeat("x", 1100)); err != nil {
		t.Fatalf("a value over max_bytes: %v (the region serves it uncached)", err)
	}
	if _, ok, _ := b.Get(ctx, "big"); ok {
		t.Error("a value over max_bytes 1 KiB was stored")
	}

	for _, tc := range []struct {
		args  driver.Arguments
		check func(memory.Options) bool
	}{
		{driver.Arguments{"max_size": 10}, func(o memory.Options) bool { return o.MaxEntries == 10 }},
		{driver.Arguments{"max_size": 10.0}, func(o memory.Options) bool { return o.MaxEntries == 10 }},
		{driver.Arguments{"max_bytes": 4096}, func(o memory.Options) bool { return o.MaxBytes == 4096 }},
		{driver.Arguments{"max_bytes": int64(5)}, func(o memory.Options) bool { return o.MaxBytes == 5 }},
		{driver.Arguments{"max_bytes": "64MiB"}, func(o memory.Options) bool { return o.MaxBytes == 64<<20 }},
		{driver.Arguments{"max_bytes": "2 gb"}, func(o memory.Options) bool { return o.MaxBytes == 2e9 }},
		{driver.Arguments{"max_bytes": "100B"}, func(o memory.Options) bool { return o.MaxBytes == 100 }},
		{driver.Arguments{"max_bytes": "123"}, func(o memory.Options) bool { return o.MaxBytes == 123 }},
		{driver.Arguments{"memory_expiration_time": 90}, func(o memory.Options) bool { return o.TTL == 90*time.Second }},
		{driver.Arguments{"memory_expiration_time": "1.5"}, func(o memory.Options) bool { return o.TTL == 1500*time.Millisecond }},
		{driver.Arguments{"memory_expiration_time": "5m"}, func(o memory.Options) bool { return o.TTL == 5*time.Minute }},
		{driver.Arguments{"memory_expiration_time": time.Hour}, func(o memory.Options) bool { return o.TTL == time.Hour }},
		{driver.Arguments{"memory_expiration_time": 0}, func(o memory.Options) bool { return o.TTL == memory.NoTTL }},
		{driver.Arguments{"memory_expiration_time": " None "}, func(o memory.Options) bool { return o.TTL == memory.NoTTL }},
		{driver.Arguments{"memory_expiration_time": nil}, func(o memory.Options) bool { return o.TTL == 0 }},
		{driver.Arguments{}, func(o memory.Options) bool {
			return o.MaxEntries == 0 && o.MaxBytes == 0 && o.TTL == 0 && o.Cost == nil
		}},
	} {
		o, err := memory.ParseArguments(tc.args)
		if err != nil || !tc.check(o) {
			t.Errorf("arguments %v: %+v, %v", tc.args, o, err)
		}
	}

	for _, tc := range []struct {
		name string
		v    any
	}{
		{"max_size", 0}, {"max_size", -1}, {"max_size", "many"}, {"max_size", 1.5},
		{"max_bytes", 0}, {"max_bytes", -5}, {"max_bytes", "5 parsecs"}, {"max_bytes", "-1KB"},
		{"max_bytes", "99999999999 TiB"}, {"max_bytes", 1.5}, {"max_bytes", true},
		{"memory_expiration_time", -1}, {"memory_expiration_time", "soon"},
	} {
		for _, name := range []string{memory.Name, memory.BytesName} {
			_, err := driver.Open(name, driver.Arguments{tc.name: tc.v})
			if !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), `"`+tc.name+`"`) {
				t.Errorf("Open(%s, %s=%#v) = %v, want ErrInvalidArgument naming it", name, tc.name, tc.v, err)
			}
		}
	}
}

// TestOptionsValidation: values New cannot take are errors wrapping
// driver.ErrInvalidArgument that name the field; none is corrected.
func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		o     memory.Options
		field string
	}{
		{memory.Options{MaxEntries: -1}, "Options.MaxEntries"},
		{memory.Options{MaxBytes: -1}, "Options.MaxBytes"},
		{memory.Options{TTL: -2 * time.Second}, "Options.TTL"},
		{memory.Options{TTL: -1*time.Nanosecond - 1}, "Options.TTL"},
	} {
		_, err := memory.New(tc.o)
		if !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.field) ||
			!strings.HasPrefix(err.Error(), "memory: ") {
			t.Errorf("New(%+v) = %v, want an error naming %s", tc.o, err, tc.field)
		}
		_, err = memory.NewBytes(tc.o)
		if !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("NewBytes(%+v) = %v, want an error naming %s", tc.o, err, tc.field)
		}
	}
	cost := func(any) int64 { return 1 }
	if _, err := memory.NewBytes(memory.Options{Cost: cost}); !errors.Is(err, driver.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "Options.Cost") {
		t.Errorf("NewBytes with a Cost = %v", err)
	}
	for _, o := range []memory.Options{
		{}, {MaxEntries: 1, MaxBytes: 1}, {TTL: memory.NoTTL}, {TTL: time.Nanosecond},
		{MaxEntries: math.MaxInt, MaxBytes: math.MaxInt64, TTL: math.MaxInt64}, {Cost: cost},
	} {
		if _, err := memory.New(o); err != nil {
			t.Errorf("New(%+v) = %v", o, err)
		}
	}
}

// TestDefaults: the zero Options bound the cache by the documented
// defaults, and derive the time to live from the region.
func TestDefaults(t *testing.T) {
	if memory.DefaultMaxEntries != 100_000 || memory.DefaultMaxBytes != 256<<20 || memory.DefaultTTLFactor != 2 {
		t.Errorf("defaults %d entries, %d bytes, factor %d", memory.DefaultMaxEntries, memory.DefaultMaxBytes, memory.DefaultTTLFactor)
	}
	if n, by := memory.Limits(memory.Options{}); n != memory.DefaultMaxEntries || by != memory.DefaultMaxBytes {
		t.Errorf("Limits(zero Options) = %d, %d", n, by)
	}
	if n, by := memory.Limits(memory.Options{MaxEntries: 7}); n != 7 || by != memory.DefaultMaxBytes {
		t.Errorf("Limits(MaxEntries 7) = %d, %d", n, by)
	}
	if n, by := memory.Limits(memory.Options{MaxBytes: 7}); n != memory.DefaultMaxEntries || by != 7 {
		t.Errorf("Limits(MaxBytes 7) = %d, %d", n, by)
	}
	b := mustNew(t, memory.Options{})
	maxW, minW := b.Weights()
	if minW != math.MaxUint32/memory.DefaultMaxEntries || maxW != minW*memory.DefaultMaxEntries {
		t.Errorf("default weights: max %d, min %d", maxW, minW)
	}
	if b.TTL() != 0 {
		t.Errorf("TTL before any region = %v, want none", b.TTL())
	}
	// Opened by name, the same.
	x, err := driver.Open(memory.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if maxW2, minW2 := x.(*memory.Backend).Weights(); maxW2 != maxW || minW2 != minW {
		t.Errorf("opened by name: weights %d, %d", maxW2, minW2)
	}
}

// TestTTLFromRegion: the time to live is DefaultTTLFactor times the
// region's expiration, none without one; of several regions, the longest
// wins, and none once one never expires; a fixed TTL stays.
func TestTTLFromRegion(t *testing.T) {
	for _, tc := range []struct{ exp, want time.Duration }{
		{time.Minute, 2 * time.Minute},
		{0, 0},
		{time.Millisecond, 2 * time.Millisecond},
		{math.MaxInt64 / 2, math.MaxInt64 / 2 * 2},
		{math.MaxInt64/2 + 1, math.MaxInt64},
	} {
		b := mustNew(t, memory.Options{})
		bb := mustNewBytes(t, memory.Options{})
		b.SetRegionExpiration(tc.exp)
		bb.SetRegionExpiration(tc.exp)
		if b.TTL() != tc.want || bb.TTL() != tc.want {
			t.Errorf("region expiration %v: TTL %v and %v, want %v", tc.exp, b.TTL(), bb.TTL(), tc.want)
		}
	}
	shared := mustNew(t, memory.Options{})
	for _, step := range []struct{ exp, want time.Duration }{
		{time.Minute, 2 * time.Minute},
		{time.Hour, 2 * time.Hour},
		{time.Second, 2 * time.Hour}, // a shorter region keeps the longer one's entries
		{0, 0},                       // a region that never expires: none
		{time.Minute, 0},
	} {
		shared.SetRegionExpiration(step.exp)
		if got := shared.TTL(); got != step.want {
			t.Errorf("another region expiring after %v: TTL %v, want %v", step.exp, got, step.want)
		}
	}
	b := mustNew(t, memory.Options{})
	r := dogpile.NewRegion()
	if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if b.TTL() != time.Minute {
		t.Errorf("after ConfigureBackend with 30s: TTL %v", b.TTL())
	}
	for _, o := range []memory.Options{{TTL: 5 * time.Second}, {TTL: memory.NoTTL}} {
		fixed := mustNew(t, o)
		fixed.SetRegionExpiration(time.Hour)
		want := max(o.TTL, 0)
		if fixed.TTL() != want {
			t.Errorf("fixed %v: TTL %v after the region's", o.TTL, fixed.TTL())
		}
	}
}

// TestBytesBackendCopies: the bytes backend keeps copies, so that callers
// may reuse their buffers.
func TestBytesBackendCopies(t *testing.T) {
	b := mustNewBytes(t, memory.Options{})
	buf := []byte("abc")
	if err := b.SetBytes(ctx, "k", buf); err != nil {
		t.Fatal(err)
	}
	items := []driver.BytesItem{{Key: "m", Value: []byte("xyz")}, {Key: "empty", Value: []byte{}}}
	if err := b.SetBytesMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	buf[0], items[0].Value[0] = 'Z', 'Z'
	if v, _, _ := b.GetBytes(ctx, "k"); string(v) != "abc" {
		t.Errorf("GetBytes(k) = %q after the caller changed its buffer", v)
	}
	vs, _ := b.GetBytesMulti(ctx, []string{"m", "missing", "empty"})
	if string(vs[0]) != "xyz" || vs[1] != nil || vs[2] == nil || len(vs[2]) != 0 {
		t.Errorf("GetBytesMulti = %q", vs)
	}
	if v, ok, _ := b.GetBytes(ctx, "empty"); !ok || v == nil {
		t.Errorf("an empty entry: %q, %v; want a hit", v, ok)
	}
}

func TestLen(t *testing.T) {
	b := mustNew(t, memory.Options{})
	if b.Len() != 0 || b.Bytes() != 0 {
		t.Fatalf("new backend: Len() = %d, Bytes() = %d", b.Len(), b.Bytes())
	}
	cv := value(1, time.Now())
	_ = b.Set(ctx, "a", cv)
	_ = b.SetMulti(ctx, []driver.Item{{Key: "b", Value: cv}, {Key: "a", Value: cv}})
	if b.Len() != 2 {
		t.Errorf("Len() = %d, want 2", b.Len())
	}
	if b.Bytes() != 2*(1+8) { // two one-byte keys and two ints
		t.Errorf("Bytes() = %d, want 18", b.Bytes())
	}
	_ = b.DeleteMulti(ctx, []string{"a", "missing"})
	_ = b.Delete(ctx, "b")
	if b.Len() != 0 || b.Bytes() != 0 {
		t.Errorf("after the deletes: Len() = %d, Bytes() = %d", b.Len(), b.Bytes())
	}
	if vs, err := b.GetMulti(ctx, []string{"a"}); err != nil || vs[0] != (driver.CachedValue{}) {
		t.Errorf("GetMulti of a deleted key = %v, %v; want the zero CachedValue", vs, err)
	}

	bb := mustNewBytes(t, memory.Options{})
	_ = bb.SetBytes(ctx, "key", []byte("12345"))
	_ = bb.SetBytes(ctx, "key", []byte("123"))
	if bb.Len() != 1 || bb.Bytes() != 6 {
		t.Errorf("bytes backend: Len() = %d, Bytes() = %d, want 1, 6", bb.Len(), bb.Bytes())
	}
}

// TestValuesKept: every CachedValue comes back as it was given: the
// payload itself, not a copy, and the same metadata, whatever its version
// or creation time.
func TestValuesKept(t *testing.T) {
	b := mustNew(t, memory.Options{})
	now := time.Now()
	type page struct{ Title string }
	p := &page{"home"}
	m := map[string]int{"a": 1}
	for _, tc := range []struct {
		name string
		cv   driver.CachedValue
	}{
		{"string", value("v", now)},
		{"named string", value(kind("k"), now)},
		{"int", value(7, now)},
		{"nil payload", value(nil, now)},
		{"pointer", value(p, now)},
		{"map", value(m, now)},
		{"bytes", value([]byte("raw"), now)},
		{"another version", driver.CachedValue{Payload: "old", Metadata: driver.Metadata{CreatedAt: now, Version: 1}}},
		{"zero time", value("v", time.Time{})},
		{"far future", value("v", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))},
		{"far past", value(3, time.Date(1000, 1, 1, 0, 0, 0, 1, time.UTC))},
		{"utc nanoseconds", value("v", time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC))},
	} {
		if err := b.Set(ctx, tc.name, tc.cv); err != nil {
			t.Fatal(err)
		}
		got, ok, err := b.Get(ctx, tc.name)
		if err != nil || !ok {
			t.Fatalf("%s: Get = %v, %v", tc.name, ok, err)
		}
		if !got.Metadata.CreatedAt.Equal(tc.cv.Metadata.CreatedAt) || got.Metadata.Version != tc.cv.Metadata.Version {
			t.Errorf("%s: metadata %+v, want %+v", tc.name, got.Metadata, tc.cv.Metadata)
		}
		switch want := tc.cv.Payload.(type) {
		case map[string]int:
			if g, ok := got.Payload.(map[string]int); !ok || &g == nil || len(g) != 1 {
				t.Errorf("%s: payload %#v", tc.name, got.Payload)
			}
			g := got.Payload.(map[string]int)
			g["b"] = 2 // the same map, not a copy
			if len(want) != 2 {
				t.Errorf("%s: the payload is a copy", tc.name)
			}
		case []byte:
			if g := got.Payload.([]byte); &g[0] != &want[0] {
				t.Errorf("%s: the payload is a copy", tc.name)
			}
		default:
			if got.Payload != tc.cv.Payload {
				t.Errorf("%s: payload %#v, want %#v", tc.name, got.Payload, tc.cv.Payload)
			}
		}
		vs, _ := b.GetMulti(ctx, []string{"missing", tc.name})
		if vs[0] != (driver.CachedValue{}) || !vs[1].Metadata.CreatedAt.Equal(tc.cv.Metadata.CreatedAt) || vs[1].Metadata.Version != tc.cv.Metadata.Version {
			t.Errorf("%s: GetMulti = %+v", tc.name, vs)
		}
	}
}

type kind string

// TestValueTooLarge: an entry over MaxBytes is refused with
// ErrValueTooLarge, leaves what was stored, and a region serves the value
// uncached.
func TestValueTooLarge(t *testing.T) {
	b := mustNew(t, memory.Options{MaxBytes: 100})
	bb := mustNewBytes(t, memory.Options{MaxBytes: 100})
	now := time.Now()
	if err := b.Set(ctx, "k", value("small", now)); err != nil {
		t.Fatal(err)
	}
	_ = bb.SetBytes(ctx, "k", []byte("small"))
	big := strings.Repeat("x", 100) // 101 bytes with the key
	if err := b.Set(ctx, "k", value(big, now)); !errors.Is(err, driver.ErrValueTooLarge) || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("Set of 101 bytes under MaxBytes 100 = %v", err)
	}
	if err := bb.SetBytes(ctx, "k", []byte(big)); !errors.Is(err, driver.ErrValueTooLarge) {
		t.Errorf("SetBytes of 101 bytes under MaxBytes 100 = %v", err)
	}
	if cv, _, _ := b.Get(ctx, "k"); cv.Payload != "small" {
		t.Errorf("after the refused Set: %v", cv.Payload)
	}
	if v, _, _ := bb.GetBytes(ctx, "k"); string(v) != "small" {
		t.Errorf("after the refused SetBytes: %q", v)
	}
	if err := mustNew(t, memory.Options{MaxBytes: 100}).Set(ctx, "k", value(big[:99], now)); err != nil { // exactly 100
		t.Errorf("an entry of exactly MaxBytes: %v", err)
	}
	err := b.SetMulti(ctx, []driver.Item{{Key: "a", Value: value("1", now)}, {Key: "b", Value: value(big, now)}, {Key: "c", Value: value("3", now)}})
	if !errors.Is(err, driver.ErrValueTooLarge) || !strings.Contains(err.Error(), `["b"]`) {
		t.Errorf("SetMulti with one entry too large = %v", err)
	}
	err = bb.SetBytesMulti(ctx, []driver.BytesItem{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte(big)}})
	if !errors.Is(err, driver.ErrValueTooLarge) || !strings.Contains(err.Error(), `["b"]`) {
		t.Errorf("SetBytesMulti with one entry too large = %v", err)
	}
	if _, ok, _ := b.Get(ctx, "c"); !ok {
		t.Error("SetMulti left out the entries that fit")
	}
	if _, ok, _ := bb.GetBytes(ctx, "a"); !ok {
		t.Error("SetBytesMulti left out the entries that fit")
	}

	// Through a region: the value is served, not cached.
	for _, be := range []driver.Backend{mustNew(t, memory.Options{MaxBytes: 100}), mustNewBytes(t, memory.Options{MaxBytes: 100})} {
		r := dogpile.NewRegion(quiet)
		if err := r.ConfigureBackend(be, dogpile.Config{}); err != nil {
			t.Fatal(err)
		}
		calls := 0
		for range 2 {
			v, err := dogpile.GetOrCreate(ctx, r, "page", func(context.Context) (string, error) { calls++; return big, nil })
			if err != nil || v != big {
				t.Errorf("%T: GetOrCreate of a value too large = %d bytes, %v", be, len(v), err)
			}
		}
		if calls != 2 {
			t.Errorf("%T: %d creations of a value too large to cache, want 2", be, calls)
		}
	}
}

// TestCustomCost: Options.Cost decides the cost of values; a negative
// cost is an error.
func TestCustomCost(t *testing.T) {
	b := mustNew(t, memory.Options{Cost: func(v any) int64 {
		if s, ok := v.(string); ok && s == "bad" {
			return -1
		}
		return 1000
	}})
	if err := b.Set(ctx, "k", value("x", time.Now())); err != nil {
		t.Fatal(err)
	}
	if b.Bytes() != 1001 {
		t.Errorf("Bytes() = %d, want 1001 (the key and Cost's 1000)", b.Bytes())
	}
	if err := b.Set(ctx, "k2", value("bad", time.Now())); !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), "Options.Cost returned -1") {
		t.Errorf("Set with a negative cost = %v", err)
	}
	if err := b.SetMulti(ctx, []driver.Item{{Key: "k3", Value: value("bad", time.Now())}}); !errors.Is(err, driver.ErrInvalidArgument) {
		t.Errorf("SetMulti with a negative cost = %v", err)
	}
	if _, ok, _ := b.Get(ctx, "k2"); ok {
		t.Error("a value of negative cost was stored")
	}
}

// TestWeightRule: an entry weighs the larger of its cost's share of
// MaxBytes and one MaxEntries-th of the cache, so that one weight bounds
// both.
func TestWeightRule(t *testing.T) {
	o := memory.Options{MaxEntries: 10, MaxBytes: 1000}
	b := mustNew(t, o)
	maxW, minW := b.Weights()
	if minW != math.MaxUint32/10 || maxW != 10*minW {
		t.Fatalf("10 entries: max weight %d, least weight %d", maxW, minW)
	}
	for _, tc := range []struct {
		cost int64
		want uint64 // in thousandths of the cache
		ok   bool
	}{
		{0, 100, true}, {1, 100, true}, {100, 100, true}, {101, 101, true}, {500, 500, true}, {1000, 1000, true}, {1001, 0, false},
	} {
		w, ok := memory.Weight(o, tc.cost)
		if ok != tc.ok {
			t.Errorf("Weight(%d) ok = %v", tc.cost, ok)
			continue
		}
		// w is tc.want thousandths of maxW, rounded up.
		if want := (tc.want*maxW + 999) / 1000; ok && uint64(w) != want {
			t.Errorf("Weight(%d) = %d, want %d (%d/1000 of %d)", tc.cost, w, want, tc.want, maxW)
		}
	}
	// Exactly MaxEntries entries of the least weight fit, and no more;
	// MaxBytes bytes of entries fit, and no more.
	for _, o := range []memory.Options{
		{MaxEntries: 3, MaxBytes: 1000}, {MaxEntries: 100, MaxBytes: 1 << 20}, {MaxEntries: 7, MaxBytes: 10},
		{}, {MaxEntries: 1, MaxBytes: 1 << 40}, {MaxEntries: math.MaxInt, MaxBytes: math.MaxInt64},
	} {
		b := mustNew(t, o)
		maxW, minW := b.Weights()
		n, by := memory.Limits(o)
		counted := min(uint64(n), math.MaxUint32)
		if minW*counted != maxW || minW*(counted+1) <= maxW || maxW > math.MaxUint32 {
			t.Errorf("%+v: %d entries of weight %d do not just fill %d", o, counted, minW, maxW)
		}
		w, ok := memory.Weight(o, by)
		if !ok || uint64(w) != maxW {
			t.Errorf("%+v: an entry of MaxBytes weighs %d, %v; want the whole cache, %d", o, w, ok, maxW)
		}
		if _, ok := memory.Weight(o, by+1); ok && by < math.MaxInt64 {
			t.Errorf("%+v: an entry over MaxBytes is taken", o)
		}
		// Entries of MaxBytes/MaxEntries bytes weigh the least: MaxEntries
		// of them fit.
		if w, _ := memory.Weight(o, by/int64(n)); uint64(w) != minW {
			t.Errorf("%+v: an entry of MaxBytes/MaxEntries weighs %d, want %d", o, w, minW)
		}
	}
}

// TestAll: All yields every entry stored, as it was given, and stops when
// asked.
func TestAll(t *testing.T) {
	b := mustNew(t, memory.Options{})
	bb := mustNewBytes(t, memory.Options{})
	now := time.Now()
	want := map[string]int{"a": 1, "b": 2, "c": 3}
	for k, v := range want {
		_ = b.Set(ctx, k, value(v, now))
		_ = bb.SetBytes(ctx, k, []byte{byte(v)})
	}
	_ = b.Delete(ctx, "c")
	_ = bb.Delete(ctx, "c")
	got := map[string]int{}
	for k, cv := range b.All() {
		if !cv.Metadata.CreatedAt.Equal(now) || cv.Metadata.Version != driver.ValueVersion {
			t.Errorf("All: %s has metadata %+v", k, cv.Metadata)
		}
		got[k] = cv.Payload.(int)
	}
	gotBytes := map[string]int{}
	for k, v := range bb.All() {
		gotBytes[k] = int(v[0])
	}
	delete(want, "c")
	if !maps.Equal(got, want) || !maps.Equal(gotBytes, want) {
		t.Errorf("All() = %v and %v, want %v", got, gotBytes, want)
	}
	n := 0
	for range b.All() {
		n++
		break
	}
	if n != 1 {
		t.Errorf("All did not stop when asked: %d", n)
	}
}
