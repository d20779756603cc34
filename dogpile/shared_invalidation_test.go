package dogpile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

// sharedPair returns two regions, standing for two processes, that share a
// backend and a SharedInvalidation key.
func sharedPair(t *testing.T, clock *stepClock, b dogpile.Backend) (a, z *dogpile.Region) {
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

// eventually polls cond for up to five seconds: the other process's view
// refreshes in the background.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
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
			if v := mustGetOrCreate(t, a, "k2", counter("x")); v != "x 1" {
				t.Errorf("regenerated %q", v)
			}
		})
	}
}

func TestSharedInvalidationNewProcessReadsTimes(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	b := dogpile.NewMemoryBytesBackend()
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
}

func TestSharedInvalidationErrors(t *testing.T) {
	ctx := context.Background()
	inv := &dogpile.SharedInvalidation{}
	if err := inv.Invalidate(ctx, true); !errors.Is(err, dogpile.ErrNotConfigured) {
		t.Errorf("unbound: %v", err)
	}
	a := dogpile.NewRegion()
	if err := a.ConfigureBackend(dogpile.NewMemoryBackend(), dogpile.Config{Invalidator: inv}); err != nil {
		t.Fatal(err)
	}
	b := dogpile.NewRegion()
	if err := b.ConfigureBackend(dogpile.NewMemoryBackend(), dogpile.Config{Invalidator: inv}); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("one strategy for two regions: %v", err)
	}
	down := errors.New("down")
	f := dogpile.NewRegion(quiet)
	if err := f.ConfigureBackend(failingBackend{down}, dogpile.Config{Invalidator: &dogpile.SharedInvalidation{}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Invalidate(ctx, true); !errors.Is(err, down) {
		t.Errorf("Invalidate on a failing backend: %v", err)
	}
	if _, _, err := f.Get(ctx, "k"); !errors.Is(err, down) {
		t.Errorf("Get: %v (a failing refresh keeps the known times; the read itself fails)", err)
	}
}
