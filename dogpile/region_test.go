package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/backends/null"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

// counter returns a creator yielding "<prefix> 1", "<prefix> 2", ...
func counter(prefix string) func(context.Context) (string, error) {
	n := 0
	return func(context.Context) (string, error) {
		n++
		return fmt.Sprintf("%s %d", prefix, n), nil
	}
}

func mustGetOrCreate(t *testing.T, r *dogpile.Region, key string, creator func(context.Context) (string, error), opts ...dogpile.CallOption) string {
	t.Helper()
	v, err := dogpile.GetOrCreate(context.Background(), r, key, creator, opts...)
	if err != nil {
		t.Error(err)
	}
	return v
}

// get returns the fresh value under key, or nil.
func get(t *testing.T, r *dogpile.Region, key string, opts ...dogpile.CallOption) any {
	t.Helper()
	v, ok, err := dogpile.Get[any](context.Background(), r, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	return v
}

// Both kinds of backend: Go values, and bytes through the codec.
var kinds = []struct {
	name string
	new  func() driver.Backend
}{
	{"memory", func() driver.Backend { return must(memory.New(memory.Options{})) }},
	{"memory_pickle", func() driver.Backend { return must(memory.NewBytes(memory.Options{})) }},
}

func TestExpire(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			clock := newStepClock()
			r := newRegion(t, kind.new(), time.Second, dogpile.WithClock(clock.Now))
			c := counter("some value")
			if v := mustGetOrCreate(t, r, "k", c); v != "some value 1" {
				t.Fatalf("got %q", v)
			}
			clock.Advance(2 * time.Second)
			if v := get(t, r, "k"); v != nil {
				t.Errorf("expired Get = %v, want a miss", v)
			}
			if v := get(t, r, "k", dogpile.IgnoreExpiration()); v != "some value 1" {
				t.Errorf("Get(IgnoreExpiration) = %v", v)
			}
			if v := get(t, r, "k", dogpile.Expiration(dogpile.NoExpiration)); v != "some value 1" {
				t.Errorf("Get(NoExpiration) = %v; Get honours -1 like GetOrCreate", v)
			}
			if v := mustGetOrCreate(t, r, "k", c, dogpile.Expiration(dogpile.NoExpiration)); v != "some value 1" {
				t.Errorf("GetOrCreate(NoExpiration) = %q", v)
			}
			if v := mustGetOrCreate(t, r, "k", c, dogpile.IgnoreExpiration()); v != "some value 1" {
				t.Errorf("GetOrCreate(IgnoreExpiration) = %q", v)
			}
			if v := mustGetOrCreate(t, r, "k", c); v != "some value 2" {
				t.Errorf("GetOrCreate after expiry = %q", v)
			}
			if v := get(t, r, "k"); v != "some value 2" {
				t.Errorf("Get = %v", v)
			}
		})
	}
}

func TestExpirationBoundaryIsStrict(t *testing.T) {
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Second, dogpile.WithClock(clock.Now))
	if err := r.Set(context.Background(), "k", 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if get(t, r, "k") == nil {
		t.Error("a value exactly expiration old is still fresh (age > expiration expires)")
	}
	clock.Advance(time.Nanosecond)
	if get(t, r, "k") != nil {
		t.Error("a value older than the expiration is served")
	}
}

func TestExpireOverride(t *testing.T) {
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), 5*time.Second, dogpile.WithClock(clock.Now))
	c := counter("some value")
	if v := mustGetOrCreate(t, r, "k", c, dogpile.Expiration(time.Second)); v != "some value 1" {
		t.Fatal(v)
	}
	clock.Advance(2 * time.Second)
	if v := get(t, r, "k"); v != "some value 1" {
		t.Errorf("Get with the region's 5s = %v", v)
	}
	if v := get(t, r, "k", dogpile.Expiration(5*time.Second)); v != "some value 1" {
		t.Errorf("Get(5s) = %v", v)
	}
	created := clock.Now()
	if v := mustGetOrCreate(t, r, "k", c, dogpile.Expiration(time.Second)); v != "some value 2" {
		t.Errorf("GetOrCreate(1s) = %q", v)
	}
	var mu sync.Mutex
	var seen []time.Time
	byAge := func(d time.Duration) dogpile.CallOption {
		return dogpile.ExpirationFunc(func(ct time.Time) time.Duration {
			mu.Lock()
			seen = append(seen, ct)
			mu.Unlock()
			return d
		})
	}
	clock.Advance(10 * time.Second)
	if v := mustGetOrCreate(t, r, "k", c, byAge(time.Hour)); v != "some value 2" {
		t.Errorf("GetOrCreate(ExpirationFunc 1h) = %q", v)
	}
	if len(seen) != 1 || !seen[0].Equal(created) {
		t.Errorf("ExpirationFunc saw %v, want the creation time %v", seen, created)
	}
	// ExpirationFunc wins over Expiration; zero means the region's 5s,
	// negative never.
	if v := get(t, r, "k", dogpile.Expiration(time.Hour), byAge(0)); v != nil {
		t.Errorf("ExpirationFunc 0 (the region's 5s) after 10s = %v", v)
	}
	if v := get(t, r, "k", byAge(-3*time.Second)); v != "some value 2" {
		t.Errorf("ExpirationFunc negative (never) = %v", v)
	}
	if v := mustGetOrCreate(t, r, "k", c, byAge(time.Second)); v != "some value 3" {
		t.Errorf("GetOrCreate(ExpirationFunc 1s) = %q", v)
	}
}

func TestNoExpirationRegion(t *testing.T) {
	for _, exp := range []time.Duration{0, dogpile.NoExpiration} {
		clock := newStepClock()
		r := newRegion(t, must(memory.New(memory.Options{})), exp, dogpile.WithClock(clock.Now))
		c := counter("v")
		mustGetOrCreate(t, r, "k", c)
		clock.Advance(24 * 365 * time.Hour)
		if v := mustGetOrCreate(t, r, "k", c); v != "v 1" {
			t.Errorf("a region with expiration %v regenerated: %q", exp, v)
		}
		if r.ExpirationTime() != 0 {
			t.Errorf("ExpirationTime() = %v, want 0 (never)", r.ExpirationTime())
		}
	}
}

func TestExpireMulti(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Second, dogpile.WithClock(clock.Now))
	n := 0
	creator := func(_ context.Context, keys []string) (map[string]string, error) {
		out := make(map[string]string, len(keys))
		for _, k := range keys {
			n++
			out[k] = fmt.Sprintf("some value %s %d", k, n)
		}
		return out, nil
	}
	got, _ := dogpile.GetOrCreateMulti(ctx, r, []string{"k3", "k2", "k5"}, creator)
	if want := "map[k2:some value k2 2 k3:some value k3 1 k5:some value k5 3]"; fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s (the creator gets the caller's order)", got, want)
	}
	clock.Advance(2 * time.Second)
	if v := get(t, r, "k2"); v != nil {
		t.Errorf("Get(k2) = %v", v)
	}
	if v := get(t, r, "k2", dogpile.IgnoreExpiration()); v != "some value k2 2" {
		t.Errorf("Get(k2, IgnoreExpiration) = %v", v)
	}
	got, _ = dogpile.GetOrCreateMulti(ctx, r, []string{"k3", "k2"}, creator, dogpile.Expiration(dogpile.NoExpiration))
	if want := "map[k2:some value k2 2 k3:some value k3 1]"; fmt.Sprint(got) != want {
		t.Errorf("NoExpiration: %v", got)
	}
	got, _ = dogpile.GetOrCreateMulti(ctx, r, []string{"k3", "k2"}, creator)
	if want := "map[k2:some value k2 5 k3:some value k3 4]"; fmt.Sprint(got) != want {
		t.Errorf("after expiry: %v, want %s", got, want)
	}
	if v := get(t, r, "k2"); v != "some value k2 5" {
		t.Errorf("Get(k2) = %v", v)
	}
	if got, err := dogpile.GetMulti[string](ctx, r, []string{"k2", "k5"}); err != nil || fmt.Sprint(got) != "map[k2:some value k2 5]" {
		t.Errorf("GetMulti leaves the expired k5 out: %v, %v", got, err)
	}
}

func TestShouldCache(t *testing.T) {
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithClock(clock.Now))
	vals := []int{1, 2, 3}
	creator := func(context.Context) (int, error) {
		v := vals[0]
		vals = vals[1:]
		return v, nil
	}
	odd := dogpile.ShouldCache(func(v any) bool { return v.(int)%2 == 1 })
	ctx := context.Background()
	var seq, cached []any
	for range 3 {
		v, err := dogpile.GetOrCreate(ctx, r, "k", creator, odd)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, v)
		cached = append(cached, get(t, r, "k", dogpile.IgnoreExpiration()))
		clock.Advance(time.Millisecond)
		_ = r.Invalidate(ctx, true)
	}
	if fmt.Sprint(seq) != "[1 2 3]" || fmt.Sprint(cached) != "[1 1 3]" {
		t.Errorf("returned %v, cached %v; want [1 2 3] and [1 1 3]", seq, cached)
	}
}

func TestShouldCacheMulti(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithClock(clock.Now))
	vals := []int{1, 2, 3}
	creator := func(_ context.Context, keys []string) (map[string]int, error) {
		v := vals[0]
		vals = vals[1:]
		return map[string]int{"a": v, "b": v}, nil
	}
	odd := dogpile.ShouldCache(func(v any) bool { return v.(int)%2 == 1 })
	var seq, cached []any
	for range 3 {
		v, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, creator, odd)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, v)
		cached = append(cached, get(t, r, "a", dogpile.IgnoreExpiration()))
		clock.Advance(time.Millisecond)
		_ = r.Invalidate(ctx, true)
	}
	if fmt.Sprint(seq) != "[map[a:1 b:1] map[a:2 b:2] map[a:3 b:3]]" || fmt.Sprint(cached) != "[1 1 3]" {
		t.Errorf("returned %v, cached %v", seq, cached)
	}
}

// The creation time of a value, as ExpirationFunc receives it, on both
// kinds of backend (the successor of GetValueMetadata's CachedTime and
// Age).
func TestCreationTimeOfStoredValues(t *testing.T) {
	ctx := context.Background()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			clock := newStepClock()
			start := clock.Now()
			r := newRegion(t, kind.new(), 0, dogpile.WithClock(clock.Now))
			var seen []time.Time
			record := dogpile.ExpirationFunc(func(ct time.Time) time.Duration { seen = append(seen, ct); return 0 })
			if _, ok, err := dogpile.Get[string](ctx, r, "k", record); ok || err != nil || len(seen) != 0 {
				t.Fatalf("missing key: %v %v, ExpirationFunc saw %v", ok, err, seen)
			}
			_ = r.Set(ctx, "k", "some value")
			clock.Advance(5 * time.Second)
			v, ok, err := dogpile.Get[string](ctx, r, "k", record)
			if !ok || err != nil || v != "some value" {
				t.Fatal(v, ok, err)
			}
			if len(seen) != 1 || !seen[0].Equal(start) || clock.Now().Sub(seen[0]) != 5*time.Second {
				t.Errorf("creation time %v, want %v", seen, start)
			}
			if _, ok, _ := dogpile.Get[string](ctx, r, "k", dogpile.Expiration(4*time.Second)); ok {
				t.Error("expired value returned")
			}
			if v, ok, _ := dogpile.Get[string](ctx, r, "k", dogpile.Expiration(4*time.Second), dogpile.IgnoreExpiration()); !ok || v != "some value" {
				t.Error("IgnoreExpiration not honoured")
			}
		})
	}
}

func TestOldVersionIsAMiss(t *testing.T) {
	ctx := context.Background()
	mem := must(memory.New(memory.Options{}))
	r := newRegion(t, mem, 0)
	cv := driver.CachedValue{Payload: "v1 payload", Metadata: driver.Metadata{CreatedAt: time.Now(), Version: 1}}
	_ = mem.Set(ctx, "k", cv)
	if v := get(t, r, "k"); v != nil {
		t.Errorf("Get returned a version-1 value: %v", v)
	}
	if v := get(t, r, "k", dogpile.IgnoreExpiration()); v != nil {
		t.Errorf("Get(IgnoreExpiration) returned a version-1 value: %v", v)
	}
	if got, _ := dogpile.GetMulti[any](ctx, r, []string{"k"}); len(got) != 0 {
		t.Errorf("GetMulti returned a version-1 value: %v", got)
	}
	if v := mustGetOrCreate(t, r, "k", counter("new")); v != "new 1" {
		t.Errorf("GetOrCreate = %q", v)
	}
}

func TestUndecodableEntryIsAMissThenOverwritten(t *testing.T) {
	ctx := context.Background()
	mem := must(memory.NewBytes(memory.Options{}))
	logs, logger := bufferLogger()
	r := newRegion(t, mem, 0, logger)
	for _, junk := range []string{"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00\x8c\x07pickled\x94.", "", "{\"ct\": 1}", `{"ct": 1, "v": 2}|{not json`} {
		_ = mem.SetBytes(ctx, "k", []byte(junk))
		if v := get(t, r, "k"); v != nil {
			t.Errorf("%q: Get = %v, want a miss", junk, v)
		}
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "fresh", nil })
		if err != nil || v != "fresh" {
			t.Errorf("%q: GetOrCreate = %q, %v", junk, v, err)
		}
		if v := get(t, r, "k"); v != "fresh" {
			t.Errorf("%q: not overwritten: %v", junk, v)
		}
		_ = r.Delete(ctx, "k")
	}
	if n := strings.Count(logs.String(), "undecodable"); n < 4 {
		t.Errorf("%d undecodable entries logged, want at least 4:\n%s", n, logs)
	}
}

func TestTypedAccess(t *testing.T) {
	ctx := context.Background()
	type user struct {
		ID   int
		Name string
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			r := newRegion(t, kind.new(), 0)
			u, err := dogpile.GetOrCreate(ctx, r, "u", func(context.Context) (user, error) { return user{7, "ann"}, nil })
			if err != nil || u != (user{7, "ann"}) {
				t.Fatalf("got %+v, %v", u, err)
			}
			u, err = dogpile.GetOrCreate(ctx, r, "u", func(context.Context) (user, error) { return user{}, errors.New("not called") })
			if err != nil || u != (user{7, "ann"}) {
				t.Fatalf("hit: %+v, %v", u, err)
			}
			_ = r.Set(ctx, "s", "a string")
			_, err = dogpile.GetOrCreate(ctx, r, "s", func(context.Context) (int, error) { return 0, nil })
			if !errors.Is(err, dogpile.ErrTypeMismatch) {
				t.Errorf("int from a string: %v, want ErrTypeMismatch", err)
			}
			zero, err := dogpile.GetOrCreate(ctx, r, "zero", func(context.Context) (int, error) { return 0, nil })
			if err != nil || zero != 0 {
				t.Errorf("zero value: %v %v", zero, err)
			}
			if v, ok, _ := dogpile.Get[any](ctx, r, "zero"); !ok || fmt.Sprint(v) != "0" {
				t.Errorf("a cached zero value is a hit: %v %v", v, ok)
			}
			if got, ok, err := dogpile.Get[user](ctx, r, "u"); !ok || err != nil || got != (user{7, "ann"}) {
				t.Errorf("Get[user] = %+v %v %v", got, ok, err)
			}
			if _, _, err := dogpile.Get[user](ctx, r, "s"); !errors.Is(err, dogpile.ErrTypeMismatch) {
				t.Errorf("Get[user] of a string: %v, want ErrTypeMismatch", err)
			}
			us, err := dogpile.GetMulti[user](ctx, r, []string{"u", "missing"})
			if err != nil || fmt.Sprint(us) != "map[u:{7 ann}]" {
				t.Errorf("GetMulti[user] = %v %v", us, err)
			}
			if _, err := dogpile.GetMulti[user](ctx, r, []string{"u", "s"}); !errors.Is(err, dogpile.ErrTypeMismatch) {
				t.Errorf("GetMulti[user] with a string: %v, want ErrTypeMismatch", err)
			}
		})
	}
}

func TestKeyManglerEverywhere(t *testing.T) {
	ctx := context.Background()
	mem := must(memory.New(memory.Options{}))
	r := newRegion(t, mem, 0, dogpile.WithKeyMangler(func(k string) string { return "HI!" + k }))
	_ = r.Set(ctx, "some key", "some value")
	if _, ok, _ := mem.Get(ctx, "HI!some key"); !ok || mem.Len() != 1 {
		t.Errorf("backend holds %d keys, mangled key found: %v", mem.Len(), ok)
	}
	if v := get(t, r, "some key"); v != "some value" {
		t.Errorf("Get = %v", v)
	}
	if v := mustGetOrCreate(t, r, "some key", counter("x")); v != "some value" {
		t.Errorf("GetOrCreate = %v", v)
	}
	if got, _ := dogpile.GetMulti[string](ctx, r, []string{"some key", "nope"}); fmt.Sprint(got) != "map[some key:some value]" {
		t.Errorf("GetMulti = %v (keys are the caller's)", got)
	}
	g := newGate()
	done := make(chan string)
	go func() { done <- mustGetOrCreate(t, r, "other", g.creator("v")) }()
	<-g.entered
	if !isLocked(t, r, "other") {
		t.Error("KeyIsLocked does not mangle the key")
	}
	close(g.open)
	<-done
	if _, ok, _ := mem.Get(ctx, "HI!other"); !ok {
		t.Error("GetOrCreate stored under an unmangled key")
	}
	_ = r.Delete(ctx, "some key")
	if v := get(t, r, "some key"); v != nil {
		t.Errorf("after Delete: %v", v)
	}
	_ = r.DeleteMulti(ctx, []string{"other"})
	if mem.Len() != 0 {
		t.Errorf("after DeleteMulti the backend holds %d keys", mem.Len())
	}
}

// failingBackend fails every call, like a server that is down.
type failingBackend struct{ err error }

func (f failingBackend) Get(context.Context, string) (driver.CachedValue, bool, error) {
	return driver.CachedValue{}, false, f.err
}
func (f failingBackend) GetMulti(context.Context, []string) ([]driver.CachedValue, error) {
	return nil, f.err
}
func (f failingBackend) Set(context.Context, string, driver.CachedValue) error { return f.err }
func (f failingBackend) SetMulti(context.Context, []driver.Item) error         { return f.err }
func (f failingBackend) Delete(context.Context, string) error                  { return f.err }
func (f failingBackend) DeleteMulti(context.Context, []string) error           { return f.err }

func TestBackendErrors(t *testing.T) {
	ctx := context.Background()
	down := errors.New("connection refused")
	r := newRegion(t, failingBackend{down}, time.Minute, dogpile.WithName("r"))
	var errs []error
	_, err := dogpile.GetOrCreate(ctx, r, "k", counter("v"))
	errs = append(errs, err)
	_, _, err = dogpile.Get[any](ctx, r, "k")
	errs = append(errs, err)
	_, err = dogpile.GetMulti[any](ctx, r, []string{"a", "b"})
	errs = append(errs, err)
	errs = append(errs, r.Set(ctx, "k", 1), r.SetMulti(ctx, map[string]any{"a": 1, "b": 2}), r.Delete(ctx, "k"), r.DeleteMulti(ctx, []string{"a", "b"}))
	_, err = dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) { return map[string]int{"a": 1}, nil })
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, down) {
			t.Errorf("call %d: %v, want the backend's error", i, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), `dogpile: region "r": `) || strings.Count(err.Error(), "dogpile:") != 1 ||
			!strings.Contains(err.Error(), "backend dogpile_test.failingBackend: connection refused") {
			t.Errorf("call %d: error text %q", i, err)
		}
	}
}

func TestFailOpen(t *testing.T) {
	ctx := context.Background()
	down := errors.New("connection refused")
	obs := &eventRecorder{}
	logs, logger := bufferLogger()
	open := newRegion(t, failingBackend{down}, time.Minute, dogpile.WithFailOpen(), dogpile.WithObserver(obs), logger)
	if v, err := dogpile.GetOrCreate(ctx, open, "k", counter("v")); err != nil || v != "v 1" {
		t.Errorf("fail-open GetOrCreate: %q, %v", v, err)
	}
	if vs, err := dogpile.GetOrCreateMulti(ctx, open, []string{"a", "b"}, func(_ context.Context, ks []string) (map[string]string, error) {
		return map[string]string{"a": "A", "b": "B"}, nil
	}); err != nil || fmt.Sprint(vs) != "map[a:A b:B]" {
		t.Errorf("fail-open GetOrCreateMulti: %v, %v", vs, err)
	}
	if _, ok, err := dogpile.Get[any](ctx, open, "k"); ok || err != nil {
		t.Errorf("fail-open Get: %v, %v; want a miss", ok, err)
	}
	if got, err := dogpile.GetMulti[any](ctx, open, []string{"a", "b"}); len(got) != 0 || err != nil {
		t.Errorf("fail-open GetMulti: %v, %v; want misses", got, err)
	}
	if err := open.Set(ctx, "k", 1); err != nil {
		t.Errorf("fail-open Set: %v", err)
	}
	var observed int
	for _, e := range obs.events {
		if errors.Is(e.Err, down) {
			observed++
		}
	}
	// get_or_create's read, get_or_create_multi's read, get, get_multi,
	// set: after a read that failed, the creations do not write.
	if observed != 5 {
		t.Errorf("%d fail-open errors reported to the observer, want 5: %+v", observed, obs.events)
	}
	if n := strings.Count(logs.String(), "connection refused"); n != 5 {
		t.Errorf("%d fail-open errors logged, want 5:\n%s", n, logs)
	}
	// A value the codec cannot encode is the caller's mistake, failing
	// open or not.
	bytesOpen := newRegion(t, must(memory.NewBytes(memory.Options{})), time.Minute, dogpile.WithFailOpen(), quiet)
	if err := bytesOpen.Set(ctx, "k", make(chan int)); err == nil {
		t.Error("fail-open Set of an unencodable value succeeded")
	}
}

func TestTypedHitDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Hour)
	creator := func(context.Context) (int, error) { return 42, nil }
	if _, err := dogpile.GetOrCreate(ctx, r, "k", creator); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if v, _ := dogpile.GetOrCreate(ctx, r, "k", creator); v != 42 {
			t.Fatal(v)
		}
	})
	if allocs != 0 {
		t.Errorf("typed hit allocates %v times", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		if v, ok, _ := dogpile.Get[int](ctx, r, "k"); !ok || v != 42 {
			t.Fatal(v)
		}
	})
	if allocs != 0 {
		t.Errorf("typed Get allocates %v times", allocs)
	}
}

func TestConfigureErrors(t *testing.T) {
	ctx := context.Background()
	r := dogpile.NewRegion(dogpile.WithName("r"))
	if r.Backend() != nil || r.IsConfigured() {
		t.Error("a new region has a backend")
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "k", counter("v")); !errors.Is(err, dogpile.ErrNotConfigured) {
		t.Errorf("unconfigured: %v", err)
	}
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{}); !errors.Is(err, dogpile.ErrAlreadyConfigured) {
		t.Errorf("second Configure: %v", err)
	}
	if err := r.Configure("dogpile.cache.null", dogpile.Config{ReplaceExistingBackend: true}); err != nil {
		t.Errorf("replace: %v", err)
	}
	if _, ok := r.Backend().(null.Backend); !ok {
		t.Errorf("Backend() = %T after the replacement", r.Backend())
	}
	for name, cfg := range map[string]dogpile.Config{
		"negative expiration": {ReplaceExistingBackend: true, ExpirationTime: -5},
		"nil proxy":           {ReplaceExistingBackend: true, Wrap: []driver.Proxy{nil}},
		"arguments":           {ReplaceExistingBackend: true, Arguments: map[string]any{"x": 1}},
	} {
		if err := r.ConfigureBackend(struct{ null.Backend }{}, cfg); !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, b := range map[string]driver.Backend{"no kind": onlyDeletes{}, "nil": nil} {
		if err := r.ConfigureBackend(b, dogpile.Config{ReplaceExistingBackend: true}); !errors.Is(err, dogpile.ErrInvalidBackend) {
			t.Errorf("backend %s: %v", name, err)
		}
	}
	nilProxy := func(driver.Backend) driver.Backend { return nil }
	if err := r.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{ReplaceExistingBackend: true, Wrap: []driver.Proxy{nilProxy}}); !errors.Is(err, dogpile.ErrInvalidBackend) {
		t.Errorf("proxy returning nil: %v", err)
	}
	if _, ok := r.Backend().(null.Backend); !ok {
		t.Errorf("a failed Configure changed the backend to %T", r.Backend())
	}
}

type onlyDeletes struct{}

func (onlyDeletes) Delete(context.Context, string) error        { return nil }
func (onlyDeletes) DeleteMulti(context.Context, []string) error { return nil }

type closingBackend struct {
	*memory.Backend
	closed bool
	err    error
}

func (c *closingBackend) Close() error { c.closed = true; return c.err }

var _ io.Closer = (*closingBackend)(nil)

func TestCloseAndReplaceCloseTheBackend(t *testing.T) {
	a := &closingBackend{Backend: must(memory.New(memory.Options{}))}
	b := &closingBackend{Backend: must(memory.New(memory.Options{}))}
	r := newRegion(t, a, 0)
	if err := r.ConfigureBackend(b, dogpile.Config{ReplaceExistingBackend: true}); err != nil {
		t.Fatal(err)
	}
	if !a.closed || b.closed {
		t.Errorf("replace: old closed %v, new closed %v", a.closed, b.closed)
	}
	if err := r.Close(); err != nil || !b.closed || r.IsConfigured() {
		t.Errorf("Close: %v, closed %v, configured %v", err, b.closed, r.IsConfigured())
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Closed, the region may be configured again.
	bad := &closingBackend{Backend: must(memory.New(memory.Options{})), err: errors.New("close failed")}
	if err := r.ConfigureBackend(bad, dogpile.Config{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); !errors.Is(err, bad.err) || strings.Count(err.Error(), "dogpile:") != 1 {
		t.Errorf("failing Close: %v", err)
	}
}

// Backends opened by name: a failing factory, an unknown name or a bad
// argument leave the region unconfigured, with one error naming them.
const (
	regFailingBackend   = "test.region.failing"
	regNilBackend       = "test.region.nil"
	regRecordingBackend = "test.region.recording"
)

var (
	errRegFactory = errors.New("factory refused")
	regRecordedMu sync.Mutex
	regRecorded   driver.Arguments
)

func init() {
	driver.Register(regFailingBackend, func(driver.Arguments) (driver.Backend, error) { return nil, errRegFactory })
	driver.Register(regNilBackend, func(driver.Arguments) (driver.Backend, error) { return nil, nil })
	driver.Register(regRecordingBackend, func(args driver.Arguments) (driver.Backend, error) {
		regRecordedMu.Lock()
		regRecorded = args
		regRecordedMu.Unlock()
		return must(memory.New(memory.Options{})), nil
	})
}

func TestConfigureByName(t *testing.T) {
	tests := []struct {
		name    string
		backend string
		args    map[string]any
		wantErr error
		wantMsg []string
		want    any // the backend's type, when it opens
	}{
		{name: "memory", backend: "dogpile.cache.memory", want: &memory.Backend{}},
		{name: "memory_pickle", backend: "dogpile.cache.memory_pickle", want: &memory.BytesBackend{}},
		{name: "null", backend: "dogpile.cache.null", want: null.Backend{}},
		{name: "memory with nil cache_dict", backend: "dogpile.cache.memory", args: map[string]any{"cache_dict": nil}, want: &memory.Backend{}},
		{name: "unknown", backend: "no.such.backend", wantErr: dogpile.ErrUnknownBackend,
			wantMsg: []string{`"no.such.backend"`, "dogpile.cache.memory"}},
		// The core names no backend package: the error names the convention.
		{name: "known name, missing import", backend: "dogpile.cache.memcached", wantErr: dogpile.ErrUnknownBackend,
			wantMsg: []string{`"dogpile.cache.memcached"`, `import _ "github.com/dogpilego/dogpile/dogpile/backends/<package>"`}},
		{name: "valkey", backend: "dogpile.cache.valkey_cluster", wantErr: dogpile.ErrUnknownBackend,
			wantMsg: []string{`"dogpile.cache.valkey_cluster"`, "registered when its package is imported"}},
		{name: "factory error", backend: regFailingBackend, wantErr: errRegFactory,
			wantMsg: []string{regFailingBackend}},
		{name: "factory returns nil", backend: regNilBackend, wantErr: dogpile.ErrInvalidBackend,
			wantMsg: []string{regNilBackend}},
		{name: "memory, unknown argument", backend: "dogpile.cache.memory", args: map[string]any{"url": "x", "zzz": 1},
			wantErr: dogpile.ErrInvalidArgument, wantMsg: []string{"url", "zzz"}},
		{name: "memory_pickle, unknown argument", backend: "dogpile.cache.memory_pickle", args: map[string]any{"expiration_time": 1},
			wantErr: dogpile.ErrInvalidArgument, wantMsg: []string{"expiration_time"}},
		{name: "null, unknown argument", backend: "dogpile.cache.null", args: map[string]any{"host": "h"},
			wantErr: dogpile.ErrInvalidArgument, wantMsg: []string{"host"}},
		{name: "memory, cache_dict of another type", backend: "dogpile.cache.memory", args: map[string]any{"cache_dict": map[string]any{}},
			wantErr: dogpile.ErrInvalidArgument, wantMsg: []string{"cache_dict"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dogpile.NewRegion(dogpile.WithName("r"))
			err := r.Configure(tt.backend, dogpile.Config{Arguments: tt.args})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if reflect.TypeOf(r.Backend()) != reflect.TypeOf(tt.want) {
					t.Errorf("Backend() = %T, want %T", r.Backend(), tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if r.IsConfigured() || r.Backend() != nil {
				t.Error("region configured after an error")
			}
			if !strings.HasPrefix(err.Error(), `dogpile: region "r": configure: `) || strings.Count(err.Error(), "dogpile:") != 1 {
				t.Errorf("error %q: want one dogpile: prefix and the operation", err)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

// Configure passes Arguments to the factory without changing them, and the
// factory cannot change the caller's map through them.
func TestConfigureDoesNotModifyArguments(t *testing.T) {
	args := map[string]any{"url": "127.0.0.1", "port": "6379", "list": []string{"a"}, "xyz": nil}
	before := maps.Clone(args)
	r := dogpile.NewRegion()
	if err := r.Configure(regRecordingBackend, dogpile.Config{Arguments: args}); err != nil {
		t.Fatal(err)
	}
	regRecordedMu.Lock()
	got := maps.Clone(regRecorded)
	regRecordedMu.Unlock()
	if !reflect.DeepEqual(map[string]any(got), before) {
		t.Errorf("factory got %#v, want %#v", got, before)
	}
	if !reflect.DeepEqual(args, before) {
		t.Errorf("arguments modified: %#v, was %#v", args, before)
	}
	// Memory backends leave their arguments as they were, on success and
	// on failure.
	for _, args := range []map[string]any{
		{"max_size": 10, "max_bytes": "1MiB"},
		{"max_size": 10, "bogus": 1},
	} {
		before := maps.Clone(args)
		_ = dogpile.NewRegion().Configure("dogpile.cache.memory", dogpile.Config{Arguments: args})
		if !reflect.DeepEqual(args, before) {
			t.Errorf("memory factory modified its arguments: %#v", args)
		}
	}
}

// dogpile.cache.memory's cache_dict, a map the backend would grow without
// bound, is refused with an error that says why and what to use instead,
// on both memory backends; None (nil) is no argument.
func TestMemoryCacheDictRefused(t *testing.T) {
	for _, name := range []string{"dogpile.cache.memory", "dogpile.cache.memory_pickle"} {
		err := dogpile.NewRegion().Configure(name, dogpile.Config{Arguments: map[string]any{"cache_dict": map[string]driver.CachedValue{}}})
		if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "cache_dict") || !strings.Contains(err.Error(), "max_size") {
			t.Errorf("%s with cache_dict: %v; want an invalid argument naming cache_dict and its successor", name, err)
		}
		if err := dogpile.NewRegion().Configure(name, dogpile.Config{Arguments: map[string]any{"cache_dict": nil}}); err != nil {
			t.Errorf("%s with cache_dict None: %v", name, err)
		}
	}
}

// Region options that cannot take their value make Configure fail, naming
// the option, and leave the region unconfigured.
func TestOptionsValidated(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		opt  dogpile.Option
	}{
		{"WithCodec", dogpile.WithCodec(nil)},
		{"WithClock", dogpile.WithClock(nil)},
		{"WithLogger", dogpile.WithLogger(nil)},
		{"WithCreationTimeout", dogpile.WithCreationTimeout(-time.Second)},
		{"WithKeyGenerator", dogpile.WithKeyGenerator(nil)},
		{"WithMultiKeyGenerator", dogpile.WithMultiKeyGenerator(nil)},
		{"Expiration", dogpile.Expiration(0)},
		{"Expiration", dogpile.Expiration(-5 * time.Second)},
		{"NewRegion", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dogpile.NewRegion(dogpile.WithName("r"), tt.opt)
			errs := []error{
				r.Configure("dogpile.cache.memory", dogpile.Config{}),
				r.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{}),
			}
			for _, err := range errs {
				if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.name) {
					t.Errorf("Configure: %v, want ErrInvalidArgument naming %s", err, tt.name)
					continue
				}
				if strings.Count(err.Error(), "dogpile:") != 1 {
					t.Errorf("error text %q", err)
				}
			}
			if r.IsConfigured() {
				t.Error("region configured despite the invalid option")
			}
			if _, err := dogpile.GetOrCreate(ctx, r, "k", counter("v")); !errors.Is(err, dogpile.ErrNotConfigured) && !errors.Is(err, dogpile.ErrInvalidArgument) {
				t.Errorf("call: %v", err)
			}
		})
	}
	// Every error is reported, not only the first.
	r := dogpile.NewRegion(dogpile.WithCodec(nil), dogpile.WithClock(nil))
	if err := r.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{}); err == nil || !strings.Contains(err.Error(), "WithCodec") || !strings.Contains(err.Error(), "WithClock") {
		t.Errorf("two invalid options: %v", err)
	}
	// The options whose default is none take nil.
	ok := dogpile.NewRegion(dogpile.WithKeyMangler(nil), dogpile.WithObserver(nil), dogpile.WithCreationTimeout(0))
	if err := ok.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{}); err != nil {
		t.Errorf("nil mangler and observer: %v", err)
	}
}

// A CallOption that cannot take its value makes the call fail; the
// creator is not called.
func TestCallOptionsValidated(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithName("r"))
	_ = r.Set(ctx, "k", "v")
	for _, tt := range []struct {
		name string
		opt  dogpile.CallOption
	}{
		{"Expiration", dogpile.Expiration(0)},
		{"Expiration", dogpile.Expiration(-5 * time.Second)},
		{"Expiration", dogpile.Expiration(-2)},
		{"CallOption", nil},
	} {
		t.Run(fmt.Sprint(tt.name, tt.opt == nil), func(t *testing.T) {
			calls := 0
			creator := func(context.Context) (string, error) { calls++; return "x", nil }
			_, err1 := dogpile.GetOrCreate(ctx, r, "k", creator, tt.opt)
			_, _, err2 := dogpile.Get[string](ctx, r, "k", tt.opt)
			_, err3 := dogpile.GetMulti[string](ctx, r, []string{"k"}, tt.opt)
			_, err4 := dogpile.GetOrCreateMulti(ctx, r, []string{"k", "j"}, func(context.Context, []string) (map[string]string, error) {
				calls++
				return nil, nil
			}, tt.opt)
			for i, err := range []error{err1, err2, err3, err4} {
				if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.name) || strings.Count(err.Error(), "dogpile:") != 1 {
					t.Errorf("call %d: %v, want ErrInvalidArgument naming %s", i, err, tt.name)
				}
			}
			if calls != 0 {
				t.Errorf("creator called %d times", calls)
			}
		})
	}
	if v, err := dogpile.GetOrCreate(ctx, r, "k", counter("x"), dogpile.Expiration(dogpile.NoExpiration)); err != nil || v != "v" {
		t.Errorf("NoExpiration: %q, %v", v, err)
	}
}

// NewRegion(WaitForFresh()) makes every call wait for the fresh value.
func TestWaitForFreshAsRegionDefault(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Second, dogpile.WithClock(clock.Now), dogpile.WaitForFresh())
	_ = r.Set(ctx, "k", "old")
	clock.Advance(2 * time.Second)
	g := newGate()
	leader := make(chan string)
	go func() { leader <- mustGetOrCreate(t, r, "k", g.creator("new")) }()
	<-g.entered
	const n = 10
	others := make(chan string, n)
	for range n {
		wctx := newWaitingCtx(ctx)
		go func() {
			v, err := dogpile.GetOrCreate(wctx, r, "k", g.creator("other"))
			if err != nil {
				t.Error(err)
			}
			others <- v
		}()
		<-wctx.waiting
	}
	select {
	case v := <-others:
		t.Fatalf("a caller was served %q without waiting", v)
	default:
	}
	close(g.open)
	if v := <-leader; v != "new 1" {
		t.Errorf("leader got %q", v)
	}
	for range n {
		if v := <-others; v != "new 1" {
			t.Errorf("got %q, want the fresh value", v)
		}
	}
	if c := g.calls.Load(); c != 1 {
		t.Errorf("creator called %d times, want 1", c)
	}
}

// CallOptions given to NewRegion, to a cached function and to a call:
// the narrowest scope wins.
func TestCallOptionScopes(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), 10*time.Second, dogpile.WithClock(clock.Now), dogpile.Expiration(time.Hour))

	// The region's default (1h) beats its configuration (10s).
	a := counter("a")
	mustGetOrCreate(t, r, "a", a)
	clock.Advance(30 * time.Second)
	if v := mustGetOrCreate(t, r, "a", a); v != "a 1" {
		t.Errorf("region default: %q, want the 1h default to keep a 1", v)
	}
	// A call's option beats the region's.
	if v := mustGetOrCreate(t, r, "a", a, dogpile.Expiration(20*time.Second)); v != "a 2" {
		t.Errorf("call option: %q, want a 2", v)
	}
	if v := get(t, r, "a", dogpile.Expiration(dogpile.NoExpiration)); v != "a 2" {
		t.Errorf("Get(NoExpiration) = %v", v)
	}

	// A cached function's option beats the region's.
	calls := 0
	f := dogpile.Cache0(r, func(context.Context) (int, error) { calls++; return calls, nil },
		dogpile.FuncName("tests", "scoped"), dogpile.Expiration(time.Minute))
	for step, want := range []int{1, 1, 2} {
		v, err := f.Call(ctx)
		if err != nil || v != want {
			t.Errorf("function call %d: %d, %v; want %d", step, v, err, want)
		}
		clock.Advance(45 * time.Second) // 45s: fresh under 1m; 90s: stale, though fresh under 1h
	}

	// ExpirationFunc(nil) at the call removes the region's.
	r2 := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithClock(clock.Now),
		dogpile.ExpirationFunc(func(time.Time) time.Duration { return time.Second }))
	b := counter("b")
	mustGetOrCreate(t, r2, "b", b)
	clock.Advance(2 * time.Second)
	if v := mustGetOrCreate(t, r2, "b", b, dogpile.ExpirationFunc(nil)); v != "b 1" {
		t.Errorf("ExpirationFunc(nil): %q, want the region's hour to keep b 1", v)
	}
	if v := mustGetOrCreate(t, r2, "b", b); v != "b 2" {
		t.Errorf("region ExpirationFunc: %q, want b 2", v)
	}

	// An invalid option at the function's scope fails every call.
	bad := dogpile.Cache0(r, func(context.Context) (int, error) { return 1, nil }, dogpile.Expiration(0))
	if _, err := bad.Call(ctx); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("function with Expiration(0): %v", err)
	}
}

func TestErrorText(t *testing.T) {
	cause := errors.New("cause")
	for _, tt := range []struct {
		err  *dogpile.Error
		want string
	}{
		{&dogpile.Error{Op: "get", Region: "r", Keys: []string{"k"}, Err: cause}, `dogpile: region "r": get "k": cause`},
		{&dogpile.Error{Op: "get", Keys: []string{"k"}, Err: cause}, `dogpile: get "k": cause`},
		{&dogpile.Error{Op: "configure", Region: "r", Err: cause}, `dogpile: region "r": configure: cause`},
		{&dogpile.Error{Op: "get_multi", Region: "r", Keys: []string{"a", "b"}, Err: cause}, `dogpile: region "r": get_multi ["a" "b"]: cause`},
		{&dogpile.Error{Op: "get_multi", Keys: []string{"a", "b", "c", "d", "e"}, Err: cause}, `dogpile: get_multi ["a" "b" "c" and 2 more]: cause`},
		{&dogpile.Error{Op: "get", Region: `a "b"`, Keys: []string{"k\n"}}, `dogpile: region "a \"b\"": get "k\n"`},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
		if !errors.Is(tt.err, cause) && tt.err.Err != nil {
			t.Errorf("%v does not wrap its cause", tt.err)
		}
	}
	// A 1 MiB key is cut in the text, not in the field.
	huge := strings.Repeat("é", 1<<19)
	e := &dogpile.Error{Op: "get", Region: "r", Keys: []string{huge}, Err: cause}
	if text := e.Error(); len(text) > 1000 || !strings.Contains(text, "(1048576 bytes)") || !strings.HasSuffix(text, ": cause") || !utf8Valid(text) {
		t.Errorf("1 MiB key: %d bytes of text, %q…", len(text), text[:min(len(text), 100)])
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// The errors of the calls: *dogpile.Error naming the operation, region and
// keys; errors.Is reaching the sentinel or the creator's error; one
// "dogpile:" prefix.
func TestErrorsOfCalls(t *testing.T) {
	ctx := context.Background()
	unconfigured := dogpile.NewRegion(dogpile.WithName("r"))
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithName("r"))
	_ = r.Set(ctx, "s", "a string")
	huge := strings.Repeat("x", 1<<20)
	boom := errors.New("boom")
	failing := func(context.Context) (int, error) { return 0, boom }
	call := func(f func() error) error { return f() }
	tests := []struct {
		name   string
		err    error
		op     string
		keys   []string
		target error
		prefix string
	}{
		{"unconfigured get_or_create", call(func() error { _, err := dogpile.GetOrCreate(ctx, unconfigured, "k", failing); return err }),
			"get_or_create", []string{"k"}, dogpile.ErrNotConfigured, `dogpile: region "r": get_or_create "k": region is not configured`},
		{"unconfigured get", call(func() error { _, _, err := dogpile.Get[int](ctx, unconfigured, "k"); return err }),
			"get", []string{"k"}, dogpile.ErrNotConfigured, `dogpile: region "r": get "k": `},
		{"unconfigured get_multi", call(func() error { _, err := dogpile.GetMulti[int](ctx, unconfigured, []string{"a", "b"}); return err }),
			"get_multi", []string{"a", "b"}, dogpile.ErrNotConfigured, `dogpile: region "r": get_multi ["a" "b"]: `},
		{"unconfigured set", unconfigured.Set(ctx, "k", 1), "set", []string{"k"}, dogpile.ErrNotConfigured, `dogpile: region "r": set "k": `},
		{"unconfigured delete", unconfigured.Delete(ctx, "k"), "delete", []string{"k"}, dogpile.ErrNotConfigured, `dogpile: region "r": delete "k": `},
		{"unconfigured invalidate", unconfigured.Invalidate(ctx, true), "invalidate", nil, dogpile.ErrNotConfigured, `dogpile: region "r": invalidate: `},
		{"type mismatch", call(func() error { _, err := dogpile.GetOrCreate(ctx, r, "s", failing); return err }),
			"get_or_create", []string{"s"}, dogpile.ErrTypeMismatch, `dogpile: region "r": get_or_create "s": cached value has another type`},
		{"invalid call option", call(func() error { _, err := dogpile.GetOrCreate(ctx, r, "k", failing, dogpile.Expiration(0)); return err }),
			"get_or_create", []string{"k"}, dogpile.ErrInvalidArgument, `dogpile: region "r": get_or_create "k": invalid argument`},
		{"huge key", call(func() error { _, err := dogpile.GetOrCreate(ctx, unconfigured, huge, failing); return err }),
			"get_or_create", []string{huge}, dogpile.ErrNotConfigured, `dogpile: region "r": get_or_create "xxx`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var de *dogpile.Error
			if !errors.As(tt.err, &de) {
				t.Fatalf("%v (%T) is not a *dogpile.Error", tt.err, tt.err)
			}
			if de.Op != tt.op || de.Region != "r" || !slices.Equal(de.Keys, tt.keys) {
				t.Errorf("Op %q Region %q Keys %.40q, want %q r %.40q", de.Op, de.Region, de.Keys, tt.op, tt.keys)
			}
			if !errors.Is(tt.err, tt.target) {
				t.Errorf("%v does not wrap %v", tt.err, tt.target)
			}
			text := tt.err.Error()
			if !strings.HasPrefix(text, tt.prefix) || strings.Count(text, "dogpile") != 1 || len(text) > 1000 {
				t.Errorf("text %.300q, want prefix %q and one dogpile", text, tt.prefix)
			}
		})
	}
}

// A creator's error is returned as an error of the caller's operation,
// naming the caller's keys.
func TestCreatorErrorNamesTheCallersOperation(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithName("r"))
	boom := errors.New("boom")
	_, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 0, boom })
	if want := `dogpile: region "r": get_or_create "k": creator: boom`; err == nil || err.Error() != want {
		t.Errorf("GetOrCreate: %v\nwant          %s", err, want)
	}
	var de *dogpile.Error
	if !errors.As(err, &de) || de.Op != "get_or_create" || !errors.Is(err, boom) {
		t.Errorf("GetOrCreate: %#v, want Op get_or_create wrapping the creator's error", de)
	}
	_, err = dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) { return nil, boom })
	if want := `dogpile: region "r": get_or_create_multi ["a" "b"]: creator: boom`; err == nil || err.Error() != want {
		t.Errorf("GetOrCreateMulti: %v\nwant               %s", err, want)
	}
	// A GetOrCreate waiting on a multi creation names its own key.
	entered, release := make(chan struct{}), make(chan struct{})
	multi := make(chan error)
	go func() {
		_, err := dogpile.GetOrCreateMulti(ctx, r, []string{"x", "y", "z"}, func(context.Context, []string) (map[string]int, error) {
			close(entered)
			<-release
			return nil, boom
		})
		multi <- err
	}()
	<-entered
	wctx := newWaitingCtx(ctx)
	single := make(chan error)
	go func() {
		_, err := dogpile.GetOrCreate(wctx, r, "y", func(context.Context) (int, error) { return 1, nil })
		single <- err
	}()
	<-wctx.waiting
	close(release)
	<-multi
	err = <-single
	if !errors.As(err, &de) || de.Op != "get_or_create" || !slices.Equal(de.Keys, []string{"y"}) || !errors.Is(err, boom) {
		t.Errorf("waiter of a multi creation: %v, want get_or_create \"y\" wrapping the creator's error", err)
	}
}

// Invalidate is observed as OpInvalidate.
func TestInvalidateObserved(t *testing.T) {
	obs := &eventRecorder{}
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithObserver(obs), dogpile.WithName("r"))
	if err := r.Invalidate(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if evs := obs.ops(observe.OpInvalidate); len(evs) != 1 || evs[0].Region != "r" || evs[0].Err != nil {
		t.Errorf("invalidate events %+v", evs)
	}
}
