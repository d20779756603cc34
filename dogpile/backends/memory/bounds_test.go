package memory_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

// stored counts the entries of keys b holds and the sum of their costs,
// read back one by one: what Len and Bytes report, counted independently.
func stored(t *testing.T, b *memory.Backend, keys []string) (n int, bytes int64) {
	t.Helper()
	for _, k := range keys {
		cv, ok, err := b.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
			bytes += int64(len(k)) + memory.EstimateCost(cv.Payload)
		}
	}
	return n, bytes
}

func keysN(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	return keys
}

// TestBoundByCount: with small values, the cache holds MaxEntries entries
// at most once its pending work is done, and never fewer than it must.
func TestBoundByCount(t *testing.T) {
	const maxEntries = 200
	b := mustNew(t, memory.Options{MaxEntries: maxEntries, MaxBytes: 1 << 20})
	bb := mustNewBytes(t, memory.Options{MaxEntries: maxEntries, MaxBytes: 1 << 20})
	keys := keysN("k", 5000)
	now := time.Now()
	for i, k := range keys {
		if err := b.Set(ctx, k, value(i, now)); err != nil {
			t.Fatal(err)
		}
		if err := bb.SetBytes(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if i%500 == 499 {
			b.CleanUp()
			bb.CleanUp()
			n, _ := stored(t, b, keys[:i+1])
			if b.Len() > maxEntries || n > maxEntries || bb.Len() > maxEntries {
				t.Fatalf("after %d writes: Len() = %d (%d found), bytes backend %d; want at most %d", i+1, b.Len(), n, bb.Len(), maxEntries)
			}
			if n < maxEntries*9/10 {
				t.Errorf("after %d writes: %d entries found, the cache keeps too few", i+1, n)
			}
		}
	}
}

// TestBoundByBytes: with large values, the cache holds MaxBytes bytes at
// most once its pending work is done.
func TestBoundByBytes(t *testing.T) {
	const maxBytes = 100_000
	b := mustNew(t, memory.Options{MaxEntries: 100_000, MaxBytes: maxBytes})
	bb := mustNewBytes(t, memory.Options{MaxEntries: 100_000, MaxBytes: maxBytes})
	keys := keysN("k", 3000)
	now := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	for i, k := range keys {
		v := strings.Repeat("x", 100+rng.IntN(900))
		if err := b.Set(ctx, k, value(v, now)); err != nil {
			t.Fatal(err)
		}
		if err := bb.SetBytes(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
		if i%300 == 299 {
			b.CleanUp()
			bb.CleanUp()
			n, by := stored(t, b, keys[:i+1])
			if by > maxBytes || b.Bytes() > maxBytes || bb.Bytes() > maxBytes {
				t.Fatalf("after %d writes: %d bytes found (%d entries), Bytes() = %d, bytes backend %d; want at most %d",
					i+1, by, n, b.Bytes(), bb.Bytes(), maxBytes)
			}
			if by != b.Bytes() {
				t.Errorf("after %d writes: Bytes() = %d, but the entries found cost %d", i+1, b.Bytes(), by)
			}
			if by < maxBytes/2 {
				t.Errorf("after %d writes: %d bytes found, the cache keeps too little", i+1, by)
			}
		}
	}
}

// TestBoundsTogether: with values of every size, from concurrent writers,
// both bounds hold.
func TestBoundsTogether(t *testing.T) {
	const maxEntries, maxBytes = 300, 60_000
	b := mustNew(t, memory.Options{MaxEntries: maxEntries, MaxBytes: maxBytes})
	keys := keysN("k", 4000)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			now := time.Now()
			for i := w; i < len(keys); i += 4 {
				var v any = i
				if rng.IntN(3) == 0 {
					v = strings.Repeat("y", rng.IntN(2000))
				}
				if err := b.Set(ctx, keys[i], value(v, now)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.CleanUp()
	n, by := stored(t, b, keys)
	if n > maxEntries || by > maxBytes || b.Len() > maxEntries || b.Bytes() > maxBytes {
		t.Errorf("found %d entries of %d bytes; Len() %d, Bytes() %d; bounds %d entries, %d bytes", n, by, b.Len(), b.Bytes(), maxEntries, maxBytes)
	}
	if maxW, _ := b.Weights(); b.WeightedSize() > maxW {
		t.Errorf("weighted size %d over the maximum %d", b.WeightedSize(), maxW)
	}
}

// TestHotSetSurvivesScan: keys read often stay while a scan of keys read
// once passes through a full cache, even though a hot key is read again
// only after more other keys than the cache holds (so that a cache
// dropping its least recently used entry would lose every one of them).
func TestHotSetSurvivesScan(t *testing.T) {
	const maxEntries = 1000
	b := mustNew(t, memory.Options{MaxEntries: maxEntries, MaxBytes: 1 << 20})
	now := time.Now()
	hot := keysN("hot", 200)
	for range 5 {
		for _, k := range hot {
			if _, ok, _ := b.Get(ctx, k); !ok {
				_ = b.Set(ctx, k, value(k, now))
			}
		}
		b.CleanUp()
	}
	// The scan: 50 cache sizes of cold keys, each written and read
	// once; one hot key is read after every 10 cold keys, so each hot key
	// again after 2,000 cold ones. Hits are counted after the first fifth.
	cold := keysN("cold", 50*maxEntries)
	hits, reads := 0, 0
	for i, k := range cold {
		_ = b.Set(ctx, k, value(k, now))
		_, _, _ = b.Get(ctx, k)
		if i%10 == 0 {
			h := hot[(i/10)%len(hot)]
			_, ok, _ := b.Get(ctx, h)
			if !ok {
				_ = b.Set(ctx, h, value(h, now))
			}
			if i >= len(cold)/5 { // once the scan has filled the cache many times
				reads++
				if ok {
					hits++
				}
			}
		}
	}
	b.CleanUp()
	// Least recently used eviction would hit none of them; W-TinyLFU
	// hits 87-94% here.
	if ratio := float64(hits) / float64(reads); ratio < 0.75 {
		t.Errorf("hot keys hit %.1f%% of %d reads during the scan, want 75%% at least", 100*ratio, reads)
	}
	n, _ := stored(t, b, hot)
	if n < len(hot)*8/10 {
		t.Errorf("%d of the %d hot keys survived the scan, want 80%% at least", n, len(hot))
	}
	if b.Len() > maxEntries {
		t.Errorf("Len() = %d after the scan", b.Len())
	}
	t.Logf("hot hit ratio %.1f%% of %d reads; %d of %d hot keys kept", 100*float64(hits)/float64(reads), reads, n, len(hot))
}

// events collects the OpEvict and OpExpire events of a region.
type events struct {
	mu      sync.Mutex
	evicted map[string]int
	expired map[string]int
	other   []observe.Event
	n       chan struct{} // one token per event
}

func newEvents() *events {
	return &events{evicted: map[string]int{}, expired: map[string]int{}, n: make(chan struct{}, 1<<20)}
}

func (ev *events) observer() observe.Observer {
	return observe.Func(func(_ context.Context, e observe.Event) {
		if e.Op != observe.OpEvict && e.Op != observe.OpExpire {
			return
		}
		ev.mu.Lock()
		defer ev.mu.Unlock()
		if len(e.Keys) != 1 || len(e.Results) != 1 || e.Results[0] != observe.None || e.Region != "r" {
			ev.other = append(ev.other, e)
		}
		for _, k := range e.Keys {
			if e.Op == observe.OpEvict {
				ev.evicted[k]++
			} else {
				ev.expired[k]++
			}
		}
		ev.n <- struct{}{}
	})
}

// wait waits for n more events.
func (ev *events) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := range n {
		select {
		case <-ev.n:
		case <-timeout:
			t.Fatalf("%d of %d events after 10s", i, n)
		}
	}
}

// none checks that no event is pending once the backend's work is done
// and its evictions delivered.
func (ev *events) none(t *testing.T, drain func()) {
	t.Helper()
	drain()
	select {
	case <-ev.n:
		evicted, expired := ev.snapshot()
		t.Fatalf("an unexpected eviction event: evicted %v, expired %v", evicted, expired)
	default:
	}
}

func (ev *events) snapshot() (evicted, expired map[string]int) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.evicted, ev.expired
}

// TestEvictionsReachObserver: every entry dropped for the bounds reaches
// the region's observer as an OpEvict of its key, once; deletes and
// overwrites are not reported.
func TestEvictionsReachObserver(t *testing.T) {
	for _, kind := range []string{"values", "bytes"} {
		t.Run(kind, func(t *testing.T) {
			ev := newEvents()
			o := memory.Options{MaxEntries: 100, MaxBytes: 1 << 20}
			var be driver.Backend
			var cleanUp, drain func()
			var length func() int
			if kind == "values" {
				b := mustNew(t, o)
				be, cleanUp, drain, length = b, b.CleanUp, b.Drain, b.Len
			} else {
				b := mustNewBytes(t, o)
				be, cleanUp, drain, length = b, b.CleanUp, b.Drain, b.Len
			}
			r := dogpile.NewRegion(dogpile.WithName("r"), dogpile.WithObserver(ev.observer()),
				dogpile.WithKeyMangler(func(k string) string { return "m:" + k }))
			if err := r.ConfigureBackend(be, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				if err := r.Set(ctx, "k"+strconv.Itoa(i), i); err != nil {
					t.Fatal(err)
				}
			}
			// Within the bounds, overwrites and deletes are not evictions.
			for i := range 100 {
				_ = r.Set(ctx, "k"+strconv.Itoa(i), -i)
			}
			_ = r.Delete(ctx, "k0")
			_ = r.DeleteMulti(ctx, []string{"k1", "k2"})
			ev.none(t, drain)

			keys := keysN("x", 400)
			for _, k := range keys {
				if err := r.Set(ctx, k, k); err != nil {
					t.Fatal(err)
				}
			}
			cleanUp()
			dropped := 97 + len(keys) - length()
			ev.wait(t, dropped)
			ev.none(t, drain)
			evicted, expired := ev.snapshot()
			if len(expired) != 0 || len(ev.other) != 0 {
				t.Errorf("expired %v, malformed events %+v", expired, ev.other)
			}
			total := 0
			for k, n := range evicted {
				total += n
				if n != 1 || !strings.HasPrefix(k, "m:") {
					t.Errorf("key %q evicted %d times (keys are reported mangled, once)", k, n)
				}
				if v, ok, _ := dogpile.Get[any](ctx, r, strings.TrimPrefix(k, "m:")); ok {
					t.Errorf("evicted key %q still holds %v", k, v)
				}
			}
			if total != dropped {
				t.Errorf("%d evictions reported, %d entries dropped", total, dropped)
			}
		})
	}
}

// TestExpiredReclaimed: with no reads or writes, entries that outlived
// their time to live are removed by the periodic clean-up, and reported
// as OpExpire; entries written later, or with no time to live, stay.
func TestExpiredReclaimed(t *testing.T) {
	for _, kind := range []string{"values", "bytes"} {
		t.Run(kind, func(t *testing.T) {
			clock := memory.NewFakeClock()
			var be driver.Backend
			var length func() int
			var cleanUp func()
			if kind == "values" {
				b, err := memory.NewOnClock(memory.Options{}, clock)
				if err != nil {
					t.Fatal(err)
				}
				be, length, cleanUp = b, b.Len, b.CleanUp
			} else {
				b, err := memory.NewBytesOnClock(memory.Options{}, clock)
				if err != nil {
					t.Fatal(err)
				}
				be, length, cleanUp = b, b.Len, b.CleanUp
			}
			ev := newEvents()
			r := dogpile.NewRegion(dogpile.WithName("r"), dogpile.WithObserver(ev.observer()))
			if err := r.ConfigureBackend(be, dogpile.Config{ExpirationTime: time.Minute}); err != nil {
				t.Fatal(err)
			}
			old := keysN("old", 50)
			for _, k := range old {
				if err := r.Set(ctx, k, k); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(time.Minute) // expired for the region, not for the backend (TTL 2m)
			for _, k := range keysN("new", 10) {
				if err := r.Set(ctx, k, k); err != nil {
					t.Fatal(err)
				}
			}
			if length() != 60 {
				t.Fatalf("Len() = %d before the TTL, want 60", length())
			}
			// IgnoreExpiration still finds an entry the region considers
			// expired, until the backend's TTL.
			if _, ok, _ := dogpile.Get[string](ctx, r, "old0", dogpile.IgnoreExpiration()); !ok {
				t.Error("an entry past the region's expiration but within the TTL is gone")
			}
			clock.Advance(time.Minute + time.Second) // past the TTL of the old keys only
			ev.wait(t, len(old))
			evicted, expired := ev.snapshot()
			if len(evicted) != 0 || len(expired) != len(old) {
				t.Errorf("evicted %v, expired %d keys; want %d expired", evicted, len(expired), len(old))
			}
			for _, k := range old {
				if expired[k] != 1 {
					t.Errorf("%s expired %d times", k, expired[k])
				}
			}
			cleanUp() // the table forgets an entry just after it is reported
			if length() != 10 {
				t.Errorf("Len() = %d after the old keys expired, want 10", length())
			}
			if _, ok, _ := dogpile.Get[string](ctx, r, "new0"); !ok {
				t.Error("a key within its TTL is gone")
			}
		})
	}

	// A region without an expiration sets no TTL; neither does NoTTL.
	for _, tc := range []struct {
		o   memory.Options
		exp time.Duration
	}{{memory.Options{}, 0}, {memory.Options{TTL: memory.NoTTL}, time.Second}} {
		clock := memory.NewFakeClock()
		b, err := memory.NewOnClock(tc.o, clock)
		if err != nil {
			t.Fatal(err)
		}
		r := dogpile.NewRegion()
		if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: tc.exp}); err != nil {
			t.Fatal(err)
		}
		_ = r.Set(ctx, "k", "v")
		if tc.o.TTL == 0 {
			clock.Advance(1000 * time.Hour) // only caches with a TTL have a clean-up goroutine
		}
		b.CleanUp()
		if _, ok, _ := b.Get(ctx, "k"); !ok || b.Len() != 1 {
			t.Errorf("%+v, region expiration %v: the entry left", tc.o, tc.exp)
		}
	}

	// A fixed TTL applies whatever the region's expiration.
	clock := memory.NewFakeClock()
	b, err := memory.NewOnClock(memory.Options{TTL: 10 * time.Second}, clock)
	if err != nil {
		t.Fatal(err)
	}
	b.SetRegionExpiration(time.Hour)
	_ = b.Set(ctx, "k", value("v", time.Now()))
	clock.Advance(11 * time.Second)
	b.CleanUp()
	if _, ok, _ := b.Get(ctx, "k"); ok {
		t.Error("an entry outlived its fixed TTL")
	}
}

// TestOverwriteRestartsTTL: a write gives the entry a new time to live.
func TestOverwriteRestartsTTL(t *testing.T) {
	clock := memory.NewFakeClock()
	b, err := memory.NewOnClock(memory.Options{TTL: 10 * time.Second}, clock)
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Set(ctx, "k", value("v1", time.Now()))
	clock.Advance(8 * time.Second)
	_ = b.Set(ctx, "k", value("v2", time.Now()))
	clock.Advance(8 * time.Second)
	if cv, ok, _ := b.Get(ctx, "k"); !ok || cv.Payload != "v2" {
		t.Errorf("16s after the first write, 8s after the second: %v, %v", cv.Payload, ok)
	}
	clock.Advance(3 * time.Second)
	if _, ok, _ := b.Get(ctx, "k"); ok {
		t.Error("11s after the last write, the entry is still there")
	}
}
