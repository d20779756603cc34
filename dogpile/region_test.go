package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

var quiet = dogpile.WithLogger(slog.New(slog.DiscardHandler))

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
		t.Fatal(err)
	}
	return v
}

func get(t *testing.T, r *dogpile.Region, key string, opts ...dogpile.CallOption) any {
	t.Helper()
	v, ok, err := r.Get(context.Background(), key, opts...)
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
	new  func() dogpile.Backend
}{
	{"memory", func() dogpile.Backend { return dogpile.NewMemoryBackend() }},
	{"memory_pickle", func() dogpile.Backend { return dogpile.NewMemoryBytesBackend() }},
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
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Second, dogpile.WithClock(clock.Now))
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
	r := newRegion(t, dogpile.NewMemoryBackend(), 5*time.Second, dogpile.WithClock(clock.Now))
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
	if v := mustGetOrCreate(t, r, "k", c, dogpile.Expiration(time.Second)); v != "some value 2" {
		t.Errorf("GetOrCreate(1s) = %q", v)
	}
	var seen dogpile.Metadata
	byAge := dogpile.ExpirationFunc(func(md dogpile.Metadata) time.Duration { seen = md; return time.Hour })
	clock.Advance(10 * time.Second)
	if v := mustGetOrCreate(t, r, "k", c, byAge); v != "some value 2" {
		t.Errorf("GetOrCreate(ExpirationFunc 1h) = %q", v)
	}
	if seen.Version != dogpile.ValueVersion || seen.CreatedAt.IsZero() {
		t.Errorf("ExpirationFunc saw %+v", seen)
	}
}

func TestNoExpirationRegion(t *testing.T) {
	clock := newStepClock()
	r := newRegion(t, dogpile.NewMemoryBackend(), 0, dogpile.WithClock(clock.Now))
	c := counter("v")
	mustGetOrCreate(t, r, "k", c)
	clock.Advance(24 * 365 * time.Hour)
	if v := mustGetOrCreate(t, r, "k", c); v != "v 1" {
		t.Errorf("a region without expiration regenerated: %q", v)
	}
}

func TestExpireMulti(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Second, dogpile.WithClock(clock.Now))
	n := 0
	creator := func(_ context.Context, keys []string) ([]string, error) {
		out := make([]string, len(keys))
		for i, k := range keys {
			n++
			out[i] = fmt.Sprintf("some value %s %d", k, n)
		}
		return out, nil
	}
	got, _ := dogpile.GetOrCreateMulti(ctx, r, []string{"k3", "k2", "k5"}, creator)
	if want := "[some value k3 1 some value k2 2 some value k5 3]"; fmt.Sprint(got) != want {
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
	if want := "[some value k3 1 some value k2 2]"; fmt.Sprint(got) != want {
		t.Errorf("NoExpiration: %v", got)
	}
	got, _ = dogpile.GetOrCreateMulti(ctx, r, []string{"k3", "k2"}, creator)
	if want := "[some value k3 4 some value k2 5]"; fmt.Sprint(got) != want {
		t.Errorf("after expiry: %v, want %s", got, want)
	}
	if v := get(t, r, "k2"); v != "some value k2 5" {
		t.Errorf("Get(k2) = %v", v)
	}
}

func TestHardInvalidate(t *testing.T) {
	ctx := context.Background()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			clock := newStepClock()
			r := newRegion(t, kind.new(), time.Hour, dogpile.WithClock(clock.Now))
			c := counter("v")
			seq := []string{mustGetOrCreate(t, r, "k", c)}
			clock.Advance(time.Millisecond)
			if err := r.Invalidate(ctx, true); err != nil {
				t.Fatal(err)
			}
			if v := get(t, r, "k"); v != nil {
				t.Errorf("Get after hard invalidation = %v", v)
			}
			if v := get(t, r, "k", dogpile.IgnoreExpiration()); v != "v 1" {
				t.Errorf("Get(IgnoreExpiration) after invalidation = %v", v)
			}
			seq = append(seq, mustGetOrCreate(t, r, "k", c), mustGetOrCreate(t, r, "k", c))
			clock.Advance(time.Millisecond)
			_ = r.Invalidate(ctx, true)
			seq = append(seq, mustGetOrCreate(t, r, "k", c), mustGetOrCreate(t, r, "k", c))
			if want := "[v 1 v 2 v 2 v 3 v 3]"; fmt.Sprint(seq) != want {
				t.Errorf("got %v, want %s", seq, want)
			}
		})
	}
}

func TestHardInvalidateMulti(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Hour, dogpile.WithClock(clock.Now))
	n := 0
	creator := func(_ context.Context, keys []string) ([]string, error) {
		out := make([]string, len(keys))
		for i, k := range keys {
			n++
			out[i] = fmt.Sprintf("%s %d", k, n)
		}
		return out, nil
	}
	var seq []string
	call := func() {
		v, err := dogpile.GetOrCreateMulti(ctx, r, []string{"k1", "k2"}, creator)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, fmt.Sprint(v))
	}
	call()
	for range 2 {
		clock.Advance(time.Millisecond)
		_ = r.Invalidate(ctx, true)
		call()
		call()
	}
	want := "[[k1 1 k2 2] [k1 3 k2 4] [k1 3 k2 4] [k1 5 k2 6] [k1 5 k2 6]]"
	if fmt.Sprint(seq) != want {
		t.Errorf("got %v, want %s", seq, want)
	}
}

func TestSoftInvalidate(t *testing.T) {
	ctx := context.Background()
	// Soft invalidation works with and without an expiration time (unlike
	// dogpile.cache, which raises without one).
	for _, exp := range []time.Duration{time.Hour, 0} {
		t.Run(fmt.Sprint(exp), func(t *testing.T) {
			clock := newStepClock()
			r := newRegion(t, dogpile.NewMemoryBackend(), exp, dogpile.WithClock(clock.Now))
			c := counter("v")
			mustGetOrCreate(t, r, "k", c)
			clock.Advance(time.Millisecond)
			_ = r.Invalidate(ctx, false)
			if v := get(t, r, "k"); v != nil {
				t.Errorf("Get after soft invalidation = %v", v)
			}
			if v := mustGetOrCreate(t, r, "k", c); v != "v 2" {
				t.Errorf("single caller regenerates in the foreground: got %q", v)
			}
			if v := mustGetOrCreate(t, r, "k", c); v != "v 2" {
				t.Errorf("got %q", v)
			}
		})
	}
}

func TestSoftInvalidateServesStaleToOthers(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Hour, dogpile.WithClock(clock.Now))
	mustGetOrCreate(t, r, "k", counter("old"))
	clock.Advance(time.Millisecond)
	_ = r.Invalidate(ctx, false)
	g := newGate()
	done := make(chan string)
	go func() { done <- mustGetOrCreate(t, r, "k", g.creator("new")) }()
	<-g.entered
	if v := mustGetOrCreate(t, r, "k", g.creator("other")); v != "old 1" {
		t.Errorf("during soft regeneration: %q, want the old value", v)
	}
	close(g.open)
	if v := <-done; v != "new 1" {
		t.Errorf("got %q", v)
	}
}

func TestShouldCache(t *testing.T) {
	clock := newStepClock()
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Hour, dogpile.WithClock(clock.Now))
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
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Hour, dogpile.WithClock(clock.Now))
	vals := []int{1, 2, 3}
	creator := func(_ context.Context, keys []string) ([]int, error) {
		v := vals[0]
		vals = vals[1:]
		return []int{v, v}, nil
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
	if fmt.Sprint(seq) != "[[1 1] [2 2] [3 3]]" || fmt.Sprint(cached) != "[1 1 3]" {
		t.Errorf("returned %v, cached %v", seq, cached)
	}
}

func TestGetValueMetadata(t *testing.T) {
	ctx := context.Background()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			clock := newStepClock()
			start := clock.Now()
			r := newRegion(t, kind.new(), 0, dogpile.WithClock(clock.Now))
			if _, ok, err := r.GetValueMetadata(ctx, "k"); ok || err != nil {
				t.Fatalf("missing key: %v %v", ok, err)
			}
			_ = r.Set(ctx, "k", "some value")
			clock.Advance(5 * time.Second)
			cv, ok, err := r.GetValueMetadata(ctx, "k")
			if !ok || err != nil {
				t.Fatal(ok, err)
			}
			if cv.Payload != "some value" || !cv.CachedTime().Equal(start) || cv.Age(clock.Now()) != 5*time.Second {
				t.Errorf("got %+v, age %v", cv, cv.Age(clock.Now()))
			}
			if _, ok, _ := r.GetValueMetadata(ctx, "k", dogpile.Expiration(4*time.Second)); ok {
				t.Error("expired value returned")
			}
			if cv, ok, _ := r.GetValueMetadata(ctx, "k", dogpile.Expiration(4*time.Second), dogpile.IgnoreExpiration()); !ok || cv.Payload != "some value" {
				t.Error("IgnoreExpiration not honoured")
			}
		})
	}
}

func TestOldVersionIsAMiss(t *testing.T) {
	ctx := context.Background()
	mem := dogpile.NewMemoryBackend()
	r := newRegion(t, mem, 0)
	cv := dogpile.NewCachedValue("v1 payload", time.Now())
	cv.Metadata.Version = 1
	_ = mem.Set(ctx, "k", cv)
	if v := get(t, r, "k"); v != nil {
		t.Errorf("Get returned a version-1 value: %v", v)
	}
	if v := mustGetOrCreate(t, r, "k", counter("new")); v != "new 1" {
		t.Errorf("GetOrCreate = %q", v)
	}
}

func TestUndecodableEntryIsAMissThenOverwritten(t *testing.T) {
	ctx := context.Background()
	mem := dogpile.NewMemoryBytesBackend()
	r := newRegion(t, mem, 0, quiet)
	for _, junk := range []string{"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00\x8c\x07pickled\x94.", "", "{\"ct\": 1}", `{"ct": 1, "v": 2}|{not json`} {
		_ = mem.SetBytes(ctx, "k", []byte(junk))
		if v := get(t, r, "k"); v != nil {
			t.Errorf("%q: Get = %v, want a miss", junk, v)
		}
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "fresh", nil })
		if junk == `{"ct": 1, "v": 2}|{not json` {
			// Valid metadata and an ancient ct: the payload is decoded only
			// when used, so the expired entry is regenerated too.
			if err != nil {
				t.Errorf("%q: %v", junk, err)
			}
		} else if err != nil || v != "fresh" {
			t.Errorf("%q: GetOrCreate = %q, %v", junk, v, err)
		}
		_ = r.Delete(ctx, "k")
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
			if v, ok, _ := r.Get(ctx, "zero"); !ok || fmt.Sprint(v) != "0" {
				t.Errorf("a cached zero value is a hit: %v %v", v, ok)
			}
			if got, ok, err := dogpile.Get[user](ctx, r, "u"); !ok || err != nil || got != (user{7, "ann"}) {
				t.Errorf("Get[user] = %+v %v %v", got, ok, err)
			}
			if _, _, err := dogpile.Get[user](ctx, r, "s"); !errors.Is(err, dogpile.ErrTypeMismatch) {
				t.Errorf("Get[user] of a string: %v, want ErrTypeMismatch", err)
			}
			us, found, err := dogpile.GetMulti[user](ctx, r, []string{"u", "missing"})
			if err != nil || fmt.Sprint(us, found) != "[{7 ann} {0 }] [true false]" {
				t.Errorf("GetMulti[user] = %v %v %v", us, found, err)
			}
		})
	}
}

func TestKeyManglerEverywhere(t *testing.T) {
	ctx := context.Background()
	mem := dogpile.NewMemoryBackend()
	r := newRegion(t, mem, 0, dogpile.WithKeyMangler(func(k string) string { return "HI!" + k }))
	_ = r.Set(ctx, "some key", "some value")
	if keys := mem.Keys(); len(keys) != 1 || keys[0] != "HI!some key" {
		t.Errorf("backend keys %v", keys)
	}
	if v := get(t, r, "some key"); v != "some value" {
		t.Errorf("Get = %v", v)
	}
	if v := mustGetOrCreate(t, r, "some key", counter("x")); v != "some value" {
		t.Errorf("GetOrCreate = %v", v)
	}
	g := newGate()
	go func() { mustGetOrCreate(t, r, "other", g.creator("v")) }()
	<-g.entered
	if locked, _ := r.KeyIsLocked(ctx, "other"); !locked {
		t.Error("KeyIsLocked does not mangle the key")
	}
	close(g.open)
	_ = r.Delete(ctx, "some key")
	if v := get(t, r, "some key"); v != nil {
		t.Errorf("after Delete: %v", v)
	}
}

// failingBackend fails every call, like a server that is down.
type failingBackend struct{ err error }

func (f failingBackend) Get(context.Context, string) (dogpile.CachedValue, bool, error) {
	return dogpile.CachedValue{}, false, f.err
}
func (f failingBackend) GetMulti(context.Context, []string) ([]dogpile.CachedValue, error) {
	return nil, f.err
}
func (f failingBackend) Set(context.Context, string, dogpile.CachedValue) error { return f.err }
func (f failingBackend) SetMulti(context.Context, []dogpile.Item) error         { return f.err }
func (f failingBackend) Delete(context.Context, string) error                   { return f.err }
func (f failingBackend) DeleteMulti(context.Context, []string) error            { return f.err }

func TestBackendErrors(t *testing.T) {
	ctx := context.Background()
	down := errors.New("connection refused")
	r := newRegion(t, failingBackend{down}, time.Minute)
	if _, err := dogpile.GetOrCreate(ctx, r, "k", counter("v")); !errors.Is(err, down) || !strings.HasPrefix(err.Error(), "dogpile: ") {
		t.Errorf("GetOrCreate: %v", err)
	}
	if _, _, err := r.Get(ctx, "k"); !errors.Is(err, down) {
		t.Errorf("Get: %v", err)
	}
	if err := r.Set(ctx, "k", 1); !errors.Is(err, down) {
		t.Errorf("Set: %v", err)
	}
	if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a"}, func(context.Context, []string) ([]int, error) { return []int{1}, nil }); !errors.Is(err, down) {
		t.Errorf("GetOrCreateMulti: %v", err)
	}

	var observed []error
	var mu sync.Mutex
	obs := dogpile.ObserverFunc(func(_ context.Context, e dogpile.Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Err != nil {
			observed = append(observed, e.Err)
		}
	})
	open := newRegion(t, failingBackend{down}, time.Minute, dogpile.WithFailOpen(), dogpile.WithObserver(obs), quiet)
	if v, err := dogpile.GetOrCreate(ctx, open, "k", counter("v")); err != nil || v != "v 1" {
		t.Errorf("fail-open GetOrCreate: %q, %v", v, err)
	}
	if vs, err := dogpile.GetOrCreateMulti(ctx, open, []string{"a", "b"}, func(_ context.Context, ks []string) ([]string, error) { return ks, nil }); err != nil || fmt.Sprint(vs) != "[a b]" {
		t.Errorf("fail-open GetOrCreateMulti: %v, %v", vs, err)
	}
	if len(observed) < 2 {
		t.Errorf("fail-open errors not reported to the observer: %v", observed)
	}
}

func TestObserver(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	var mu sync.Mutex
	var events []string
	obs := dogpile.ObserverFunc(func(_ context.Context, e dogpile.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf("%s %s %v %v", e.Region, e.Op, e.Keys, e.Results))
	})
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Second, dogpile.WithName("pages"), dogpile.WithObserver(obs), dogpile.WithClock(clock.Now))
	mustGetOrCreate(t, r, "k", counter("v"))
	mustGetOrCreate(t, r, "k", counter("v"))
	_, _, _ = r.GetMulti(ctx, []string{"k", "nope"})
	_ = r.Delete(ctx, "k")
	want := []string{
		"pages create [k] [created]",
		"pages get_or_create [k] [created]",
		"pages get_or_create [k] [hit]",
		"pages get_multi [k nope] [hit miss]",
		"pages delete [k] [none]",
	}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
}

func TestTypedHitDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Hour)
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
}

func TestConfigureErrors(t *testing.T) {
	ctx := context.Background()
	r := dogpile.NewRegion(dogpile.WithName("r"))
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
	if err := r.ConfigureBackend(struct{ dogpile.NullBackend }{}, dogpile.Config{ReplaceExistingBackend: true, ExpirationTime: -5}); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("negative expiration: %v", err)
	}
	if err := r.ConfigureBackend(onlyDeletes{}, dogpile.Config{ReplaceExistingBackend: true}); !errors.Is(err, dogpile.ErrInvalidBackend) {
		t.Errorf("backend of no kind: %v", err)
	}
}

type onlyDeletes struct{}

func (onlyDeletes) Delete(context.Context, string) error        { return nil }
func (onlyDeletes) DeleteMulti(context.Context, []string) error { return nil }

type closingBackend struct {
	*dogpile.MemoryBackend
	closed bool
}

func (c *closingBackend) Close() error { c.closed = true; return nil }

var _ io.Closer = (*closingBackend)(nil)

func TestCloseAndReplaceCloseTheBackend(t *testing.T) {
	a := &closingBackend{MemoryBackend: dogpile.NewMemoryBackend()}
	b := &closingBackend{MemoryBackend: dogpile.NewMemoryBackend()}
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
}

// ctxObserver observes only calls whose context carries a marker, as a
// request-scoped recorder does.
type ctxObserver struct {
	mu     sync.Mutex
	events []string
}

type markKey struct{}

func (o *ctxObserver) Enabled(ctx context.Context) bool { return ctx.Value(markKey{}) != nil }

func (o *ctxObserver) Observe(ctx context.Context, e dogpile.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("%v %s %v", ctx.Value(markKey{}), e.Op, e.Results))
}

func TestObserverEnabledPerContext(t *testing.T) {
	plain := context.Background()
	marked := context.WithValue(plain, markKey{}, "req1")
	o := &ctxObserver{}
	all := &ctxObserver{}
	everything := dogpile.ObserverFunc(func(ctx context.Context, e dogpile.Event) {
		all.mu.Lock()
		defer all.mu.Unlock()
		all.events = append(all.events, e.Op.String())
	})
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Hour, dogpile.WithObserver(dogpile.MultiObserver(o, nil, everything)))
	creator := func(context.Context) (int, error) { return 1, nil }
	_, _ = dogpile.GetOrCreate(plain, r, "k", creator)
	_, _ = dogpile.GetOrCreate(marked, r, "k", creator)
	if fmt.Sprint(o.events) != "[req1 get_or_create [hit]]" {
		t.Errorf("context-enabled observer saw %v", o.events)
	}
	if fmt.Sprint(all.events) != "[create get_or_create get_or_create]" {
		t.Errorf("always-enabled observer saw %v", all.events)
	}

	// An observer not enabled for a call costs it nothing.
	quietRegion := newRegion(t, dogpile.NewMemoryBackend(), time.Hour, dogpile.WithObserver(o))
	_, _ = dogpile.GetOrCreate(plain, quietRegion, "k", creator)
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = dogpile.GetOrCreate(plain, quietRegion, "k", creator) }); allocs != 0 {
		t.Errorf("a hit with a disabled observer allocates %v times", allocs)
	}
}

func TestCreationEventReportsBytesWritten(t *testing.T) {
	var sizes []string
	obs := dogpile.ObserverFunc(func(_ context.Context, e dogpile.Event) {
		sizes = append(sizes, fmt.Sprintf("%s %d", e.Op, e.Size))
	})
	r := newRegion(t, dogpile.NewMemoryBytesBackend(), time.Hour, dogpile.WithObserver(obs))
	mustGetOrCreate(t, r, "k", func(context.Context) (string, error) { return "12345678", nil })
	// The payload is the JSON string "12345678": 10 bytes.
	if want := "[create 10 get_or_create -1]"; fmt.Sprint(sizes) != want {
		t.Errorf("events %v, want %s", sizes, want)
	}
}

func TestObservedTypedHitStaysOnTheFastPath(t *testing.T) {
	ctx := context.Background()
	var hits int
	obs := dogpile.ObserverFunc(func(_ context.Context, e dogpile.Event) {
		if e.Op == dogpile.OpGetOrCreate && e.Results[0] == dogpile.ResultHit {
			hits++
		}
	})
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Hour, dogpile.WithObserver(obs))
	creator := func(context.Context) (int, error) { return 1, nil }
	_, _ = dogpile.GetOrCreate(ctx, r, "k", creator)
	allocs := testing.AllocsPerRun(100, func() { _, _ = dogpile.GetOrCreate(ctx, r, "k", creator) })
	if allocs > 1 {
		t.Errorf("an observed typed hit allocates %v times, want at most 1 (the event's key slice)", allocs)
	}
	if hits != 101 {
		t.Errorf("observer saw %d hits, want 101", hits)
	}
}
