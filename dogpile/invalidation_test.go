package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

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

// A hard-invalidated value is absent: callers wait for the new one
// instead of being served the old.
func TestHardInvalidateIsNotServedStale(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithClock(clock.Now))
	mustGetOrCreate(t, r, "k", counter("old"))
	clock.Advance(time.Millisecond)
	_ = r.Invalidate(ctx, true)
	g := newGate()
	done := make(chan string)
	go func() { done <- mustGetOrCreate(t, r, "k", g.creator("new")) }()
	<-g.entered
	wctx := newWaitingCtx(ctx)
	other := make(chan string)
	go func() {
		v, _ := dogpile.GetOrCreate(wctx, r, "k", g.creator("other"))
		other <- v
	}()
	<-wctx.waiting
	close(g.open)
	if v, w := <-done, <-other; v != "new 1" || w != "new 1" {
		t.Errorf("got %q and %q, want the new value for both", v, w)
	}
}

func TestHardInvalidateMulti(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithClock(clock.Now))
	n := 0
	creator := func(_ context.Context, keys []string) (map[string]string, error) {
		out := make(map[string]string, len(keys))
		for _, k := range keys {
			n++
			out[k] = fmt.Sprintf("%s %d", k, n)
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
	want := "[map[k1:k1 1 k2:k2 2] map[k1:k1 3 k2:k2 4] map[k1:k1 3 k2:k2 4] map[k1:k1 5 k2:k2 6] map[k1:k1 5 k2:k2 6]]"
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
			r := newRegion(t, must(memory.New(memory.Options{})), exp, dogpile.WithClock(clock.Now))
			c := counter("v")
			mustGetOrCreate(t, r, "k", c)
			clock.Advance(time.Millisecond)
			_ = r.Invalidate(ctx, false)
			if v := get(t, r, "k"); v != nil {
				t.Errorf("Get after soft invalidation = %v", v)
			}
			if v := get(t, r, "k", dogpile.IgnoreExpiration()); v != "v 1" {
				t.Errorf("soft invalidation deleted the value: %v", v)
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
	r := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithClock(clock.Now))
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
	if c := g.calls.Load(); c != 1 {
		t.Errorf("creator called %d times, want 1", c)
	}
}

// A value created at the very time of the invalidation, or after, is not
// retired.
func TestInvalidationRetiresOnlyOlderValues(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithClock(clock.Now))
	_ = r.Set(ctx, "before", 1)
	clock.Advance(time.Nanosecond)
	_ = r.Set(ctx, "same", 2)
	_ = r.Invalidate(ctx, true)
	clock.Advance(time.Nanosecond)
	_ = r.Set(ctx, "after", 3)
	got, err := dogpile.GetMulti[int](ctx, r, []string{"before", "same", "after"})
	if err != nil || fmt.Sprint(got) != "map[after:3 same:2]" {
		t.Errorf("GetMulti = %v, %v", got, err)
	}
}

// recordingInvalidation is an InvalidationStrategy of the caller's own.
type recordingInvalidation struct {
	mu     sync.Mutex
	bound  []*dogpile.Region
	at     time.Time
	hard   bool
	failed error
}

func (s *recordingInvalidation) Bind(r *dogpile.Region) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bound = append(s.bound, r)
	return s.failed
}

func (s *recordingInvalidation) Invalidate(_ context.Context, at time.Time, hard bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at, s.hard = at, hard
	return nil
}

func (s *recordingInvalidation) Invalidated(created time.Time) (bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.at.IsZero() && created.Before(s.at), s.hard
}

func TestCustomInvalidationStrategy(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	inv := &recordingInvalidation{}
	r := dogpile.NewRegion(dogpile.WithClock(clock.Now))
	if err := r.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{Invalidator: inv}); err != nil {
		t.Fatal(err)
	}
	if len(inv.bound) != 1 || inv.bound[0] != r {
		t.Errorf("Bind calls %v", inv.bound)
	}
	_ = r.Set(ctx, "k", "v")
	clock.Advance(time.Second)
	if err := r.Invalidate(ctx, false); err != nil {
		t.Fatal(err)
	}
	if !inv.at.Equal(clock.Now()) || inv.hard {
		t.Errorf("strategy told %v hard=%v, want %v soft", inv.at, inv.hard, clock.Now())
	}
	if v := get(t, r, "k"); v != nil {
		t.Errorf("Get of a retired value = %v", v)
	}
	// Reconfiguring binds again; a Bind error is Configure's.
	if err := r.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{Invalidator: inv, ReplaceExistingBackend: true}); err != nil || len(inv.bound) != 2 {
		t.Errorf("reconfigure: %v, %d Bind calls", err, len(inv.bound))
	}
	inv.failed = errors.New("bind refused")
	if err := dogpile.NewRegion().ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{Invalidator: inv}); !errors.Is(err, inv.failed) || strings.Count(err.Error(), "dogpile:") != 1 {
		t.Errorf("failing Bind: %v", err)
	}
}

// sharedPair returns two regions, standing for two processes, that share a
// backend and a SharedInvalidation key.
func sharedPair(t *testing.T, clock *stepClock, b driver.Backend) (a, z *dogpile.Region) {
	t.Helper()
	mk := func() *dogpile.Region {
		r := dogpile.NewRegion(dogpile.WithName("pages"), dogpile.WithClock(clock.Now))
		inv := &dogpile.SharedInvalidation{Refresh: time.Second}
		if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: time.Hour, Invalidator: inv}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	return mk(), mk()
}

func TestSharedInvalidationAcrossRegions(t *testing.T) {
	ctx := context.Background()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			clock := newStepClock()
			a, z := sharedPair(t, clock, kind.new())
			mustGetOrCreate(t, a, "k", counter("v"))
			if v := get(t, z, "k"); v != "v 1" {
				t.Fatalf("other region reads %v", v)
			}
			clock.Advance(time.Millisecond)
			if err := a.Invalidate(ctx, true); err != nil {
				t.Fatal(err)
			}
			// The invalidating region sees it at once.
			if v := get(t, a, "k"); v != nil {
				t.Errorf("invalidating region still reads %v", v)
			}
			// The other sees it once its view is older than Refresh.
			if v := get(t, z, "k"); v != "v 1" {
				t.Errorf("other region before its refresh: %v", v)
			}
			clock.Advance(2 * time.Second)
			eventually(t, "hard invalidation reaching the other region", func() bool { return get(t, z, "k") == nil })
			if v := mustGetOrCreate(t, z, "k", counter("z")); v != "z 1" {
				t.Errorf("other region after the hard invalidation: %q", v)
			}

			// Soft: values become stale, served while one caller regenerates.
			c := counter("w")
			mustGetOrCreate(t, z, "k2", c)
			clock.Advance(time.Millisecond)
			if err := z.Invalidate(ctx, false); err != nil {
				t.Fatal(err)
			}
			clock.Advance(2 * time.Second)
			eventually(t, "soft invalidation reaching the first region", func() bool { return get(t, a, "k2") == nil })
			if v := get(t, a, "k2", dogpile.IgnoreExpiration()); v != "w 1" {
				t.Errorf("soft invalidation deleted the value: %v", v)
			}
			g := newGate()
			done := make(chan string)
			go func() { done <- mustGetOrCreate(t, a, "k2", g.creator("x")) }()
			<-g.entered
			if v := mustGetOrCreate(t, a, "k2", counter("y")); v != "w 1" {
				t.Errorf("during the regeneration: %q, want the stale w 1", v)
			}
			close(g.open)
			if v := <-done; v != "x 1" {
				t.Errorf("regenerated %q", v)
			}
		})
	}
}

func TestSharedInvalidationNewProcessReadsTimes(t *testing.T) {
	ctx := context.Background()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			clock := newStepClock()
			b := kind.new()
			a, _ := sharedPair(t, clock, b)
			_ = a.Set(ctx, "k", "old")
			clock.Advance(time.Millisecond)
			if err := a.Invalidate(ctx, true); err != nil {
				t.Fatal(err)
			}
			// A region configured afterwards reads the times on its first use.
			_, late := sharedPair(t, clock, b)
			if v := get(t, late, "k"); v != nil {
				t.Errorf("a region started after the invalidation reads %v", v)
			}
		})
	}
}

// Key names the shared times: regions with different names share them
// through one Key, and regions with different Keys do not.
func TestSharedInvalidationKey(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	b := must(memory.New(memory.Options{}))
	mk := func(name, key string) *dogpile.Region {
		r := dogpile.NewRegion(dogpile.WithName(name), dogpile.WithClock(clock.Now))
		if err := r.ConfigureBackend(b, dogpile.Config{Invalidator: &dogpile.SharedInvalidation{Key: key}}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	one, two, apart := mk("one", "shared"), mk("two", "shared"), mk("three", "")
	_ = one.Set(ctx, "k", 1)
	for _, r := range []*dogpile.Region{one, two, apart} {
		get(t, r, "k") // read the times once
	}
	clock.Advance(time.Millisecond)
	if err := one.Invalidate(ctx, true); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"shared:hard", "_dogpile_invalidation:three:hard"} {
		if _, ok, _ := b.Get(ctx, k); ok != (k == "shared:hard") {
			t.Errorf("backend key %s present: %v", k, ok)
		}
	}
	clock.Advance(2 * time.Second)
	eventually(t, "the invalidation reaching the region sharing the key", func() bool { return get(t, two, "k") == nil })
	get(t, apart, "k")
	clock.Advance(2 * time.Second)
	if v := get(t, apart, "k"); v != 1 {
		t.Errorf("a region with another key reads %v", v)
	}
}

func TestSharedInvalidationErrors(t *testing.T) {
	ctx := context.Background()
	inv := &dogpile.SharedInvalidation{}
	if err := inv.Invalidate(ctx, time.Now(), true); !errors.Is(err, dogpile.ErrNotConfigured) {
		t.Errorf("unbound: %v", err)
	}
	a := dogpile.NewRegion()
	if err := a.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{Invalidator: inv}); err != nil {
		t.Fatal(err)
	}
	b := dogpile.NewRegion()
	if err := b.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{Invalidator: inv}); !errors.Is(err, dogpile.ErrInvalidArgument) || strings.Count(err.Error(), "dogpile:") != 1 {
		t.Errorf("one strategy for two regions: %v", err)
	}
	if b.IsConfigured() {
		t.Error("region configured with another region's strategy")
	}
	for _, bad := range []*dogpile.SharedInvalidation{{Refresh: -time.Second}, {Timeout: -time.Second}} {
		if err := dogpile.NewRegion().ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{Invalidator: bad}); !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	down := errors.New("down")
	f := dogpile.NewRegion(quiet, dogpile.WithName("f"))
	if err := f.ConfigureBackend(failingBackend{down}, dogpile.Config{Invalidator: &dogpile.SharedInvalidation{}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Invalidate(ctx, true); !errors.Is(err, down) || strings.Count(err.Error(), "dogpile:") != 1 {
		t.Errorf("Invalidate on a failing backend: %v", err)
	}
	if _, _, err := dogpile.Get[any](ctx, f, "k"); !errors.Is(err, down) {
		t.Errorf("Get: %v (a failing refresh keeps the known times; the read itself fails)", err)
	}
}
