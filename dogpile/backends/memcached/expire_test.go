package memcached

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

func TestExpirationField(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	for _, tc := range []struct {
		secs int64
		want int32
	}{
		{-5, 0},
		{0, 0},
		{1, 1},
		{3600, 3600},
		{maxRelativeExpiration - 1, maxRelativeExpiration - 1},
		{maxRelativeExpiration, maxRelativeExpiration}, // 30 days exactly is still relative
		{maxRelativeExpiration + 1, 1_750_000_000 + maxRelativeExpiration + 1},
		{40 * 24 * 3600, 1_750_000_000 + 40*24*3600},
		{20 * 365 * 24 * 3600, math.MaxInt32}, // past 2038: clamped
		{math.MaxInt64 / 2, math.MaxInt32},
	} {
		if got := expirationField(tc.secs, now); got != tc.want {
			t.Errorf("expirationField(%d) = %d; want %d", tc.secs, got, tc.want)
		}
	}
}

func TestDerivedTTL(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Nanosecond, 2},
		{250 * time.Millisecond, 2},
		{time.Second, 3},
		{1500 * time.Millisecond, 4},
		{time.Minute, 121},
		{time.Hour, 7201},
		{20 * 24 * time.Hour, 2*20*24*3600 + 1}, // beyond 30 days: sent as an absolute time
		{math.MaxInt64, 2*int64(math.MaxInt64/int64(time.Second)) + 2 + 1},
	} {
		if got := derivedTTL(tc.d); got != tc.want {
			t.Errorf("derivedTTL(%v) = %d; want %d", tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{{time.Second, 2}, {1200 * time.Millisecond, 3}, {DefaultLockTimeout, 31}} {
		if got := lockTTL(tc.d); got != tc.want {
			t.Errorf("lockTTL(%v) = %d; want %d", tc.d, got, tc.want)
		}
	}
}

func TestSetRegionExpiration(t *testing.T) {
	b := open(t, driver.Arguments{"url": "127.0.0.1:11211"})
	steps := []struct {
		d    time.Duration
		want time.Duration
	}{
		{time.Minute, 121 * time.Second}, // the first region decides
		{time.Second, 121 * time.Second}, // a shorter one does not shorten it
		{time.Hour, 7201 * time.Second},  // a longer one lengthens it
		{0, 0},                           // a region that never expires: no TTL
		{time.Minute, 0},
	}
	for _, s := range steps {
		b.SetRegionExpiration(s.d)
		if got := b.TTL(); got != s.want {
			t.Errorf("after SetRegionExpiration(%v): TTL %v; want %v", s.d, got, s.want)
		}
	}
}

// TestServerTTL checks the TTL memcached applied, with the meta command
// "mg <key> t", and watches values expire on the server.
func TestServerTTL(t *testing.T) {
	t.Parallel()
	m := testserver.StartMemcached(t)
	ctx := context.Background()
	p := keyPrefix(t)

	check := func(t *testing.T, b *Backend, key string, lo, hi int) {
		t.Helper()
		if err := b.SetBytes(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
		sk, _ := b.StoredKey(key)
		got, ok := remainingTTL(t, m.Addr, sk)
		if !ok || got < lo || got > hi {
			t.Errorf("%s: remaining TTL %d (found %v); want %d to %d", key, got, ok, lo, hi)
		}
	}
	t.Run("Explicit", func(t *testing.T) {
		b := open(t, driver.Arguments{"url": m.Addr, "memcached_expire_time": 20})
		check(t, b, p+"explicit", 19, 20)
		region(t, b, time.Hour) // the region's expiration does not replace it
		check(t, b, p+"explicit2", 19, 20)
	})
	t.Run("Derived", func(t *testing.T) {
		b := open(t, driver.Arguments{"url": m.Addr})
		check(t, b, p+"unset", -1, -1) // no region yet: no TTL
		r := region(t, b, 10*time.Minute)
		if err := r.Set(ctx, p+"derived", "v"); err != nil {
			t.Fatal(err)
		}
		if got, ok := remainingTTL(t, m.Addr, p+"derived"); !ok || got < 1200 || got > 1201 {
			t.Errorf("region expiring after 10 minutes: remaining TTL %d (found %v); want 1201 (2 × 600 + 1)", got, ok)
		}
		b2 := open(t, driver.Arguments{"url": m.Addr})
		region(t, b2, 0)
		check(t, b2, p+"never", -1, -1)
	})
	t.Run("Over30Days", func(t *testing.T) {
		// Sent as absolute unix times, which memcached counts from its
		// own clock: that ticks once a second and lags under load, so the
		// remaining TTL it reports may exceed the TTL by a second or two.
		// Sent as relative times, the items would have expired at once.
		const days40, lag = 40 * 24 * 3600, 2
		b := open(t, driver.Arguments{"url": m.Addr, "memcached_expire_time": days40})
		check(t, b, p+"40days", days40-5, days40+lag)
		b2 := open(t, driver.Arguments{"url": m.Addr})
		region(t, b2, 20*24*time.Hour) // derived: 40 days + 1 s
		check(t, b2, p+"derived40days", days40-4, days40+1+lag)
	})
	t.Run("Lock", func(t *testing.T) {
		for _, tc := range []struct {
			timeout any
			lo, hi  int
		}{{5, 5, 6}, {nil, 30, 31}} {
			b := open(t, driver.Arguments{"url": m.Addr, "distributed_lock": true, "lock_timeout": tc.timeout})
			key := p + "lock"
			mu := b.Mutex(key)
			if ok, err := mu.Acquire(ctx, false); !ok || err != nil {
				t.Fatalf("Acquire = %v, %v", ok, err)
			}
			got, ok := remainingTTL(t, m.Addr, "_lock"+key)
			if !ok || got < tc.lo || got > tc.hi {
				t.Errorf("lock_timeout %v: lock item TTL %d (found %v); want %d to %d", tc.timeout, got, ok, tc.lo, tc.hi)
			}
			if err := mu.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("ExplicitExpires", func(t *testing.T) {
		t.Parallel()
		b := open(t, driver.Arguments{"url": m.Addr, "memcached_expire_time": 1})
		key := p + "one_second"
		if err := b.SetBytes(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if _, ok, err := b.GetBytes(ctx, key); ok || err != nil {
			t.Errorf("an item stored with memcached_expire_time 1 is still there after 1.5 s (err %v)", err)
		}
	})
	t.Run("DerivedExpires", func(t *testing.T) {
		// memcached's clock is recomputed once a second, late under
		// load, and then jumps: an item may go up to a second or two
		// early or late, which the margins allow for.
		t.Parallel()
		b := open(t, driver.Arguments{"url": m.Addr})
		r := region(t, b, 2*time.Second) // server TTL 5 s
		key := p + "derived_expires"
		if err := r.Set(ctx, key, "old"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		time.Sleep(2500 * time.Millisecond)
		// Expired for the region, but still on the server: served stale.
		if _, ok, err := dogpile.Get[string](ctx, r, key); ok || err != nil {
			t.Errorf("Get after 2.5 s = found %v, %v; want expired", ok, err)
		}
		if v, ok, err := dogpile.Get[string](ctx, r, key, dogpile.IgnoreExpiration()); !ok || err != nil || v != "old" {
			t.Errorf("Get(IgnoreExpiration) after 2.5 s = %v, %v, %v; want the stale value", v, ok, err)
		}
		time.Sleep(6500*time.Millisecond - time.Since(start))
		if _, ok, err := b.GetBytes(ctx, key); ok || err != nil {
			t.Errorf("the value is still on the server 6.5 s after it was stored (err %v); want it gone after its 5 s TTL", err)
		}
	})
}
