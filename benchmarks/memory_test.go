package benchmarks

import (
	"context"
	"math/bits"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// boundedOtter is an otter cache configured as the memory backend
// configures its own: bounded by maxEntries and maxBytes through one
// weight (an entry weighs the larger of its cost's share of maxBytes and
// one maxEntries-th of the cache), entries living ttl after their last
// write, on clock (nil: otter's).
func boundedOtter[V any](maxEntries, maxBytes uint64, cost func(V) int64, ttl time.Duration, clock otter.Clock) *otter.Cache[string, V] {
	minWeight := uint64(1<<32-1) / maxEntries
	maxWeight := minWeight * maxEntries
	return otter.Must(&otter.Options[string, V]{
		MaximumWeight: maxWeight,
		Weigher: func(k string, v V) uint32 {
			hi, lo := bits.Mul64(uint64(int64(len(k))+cost(v)), maxWeight)
			w, rem := bits.Div64(hi, lo, maxBytes)
			if rem != 0 {
				w++
			}
			return uint32(max(w, minWeight))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[string, V]) time.Duration { return ttl }),
		Clock:            clock,
	})
}

func newMemoryRegion(b *testing.B, exp time.Duration) (*dogpile.Region, *memory.Backend) {
	b.Helper()
	be, err := memory.New(memory.Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := dogpile.NewRegion()
	if err := r.ConfigureBackend(be, dogpile.Config{ExpirationTime: exp}); err != nil {
		b.Fatal(err)
	}
	return r, be
}

// BenchmarkMemoryHit compares a fresh typed hit on the bounded memory
// backend through a region (dogpile.GetOrCreate of an int, and of a 2 KB
// string) with otter's GetIfPresent on a cache bounded and expiring the
// same way: on otter's own clock (which reads the system clock on every
// read) and on otter's CoarseClock (a clock kept in memory, as the
// backend's is under load). "backend" is the backend's own Get, without
// the region.
func BenchmarkMemoryHit(b *testing.B) {
	ctx := context.Background()
	const key = "user:123456"
	page := strings.Repeat("<p>fragment</p>", 2048/15+1)[:2048]
	intCost := func(int) int64 { return 8 }
	strCost := func(s string) int64 { return int64(len(s)) }
	coarse := otter.NewCoarseClock(time.Millisecond)
	b.Cleanup(coarse.Stop)

	b.Run("int/dogpile", func(b *testing.B) {
		r, _ := newMemoryRegion(b, time.Hour)
		create := func(context.Context) (int, error) { return 7, nil }
		if _, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if v, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil || v != 7 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("int/backend", func(b *testing.B) {
		_, be := newMemoryRegion(b, time.Hour)
		_ = be.Set(ctx, key, driver.CachedValue{Payload: 7, Metadata: driver.Metadata{CreatedAt: time.Now(), Version: driver.ValueVersion}})
		b.ReportAllocs()
		for b.Loop() {
			if cv, ok, _ := be.Get(ctx, key); !ok || cv.Payload != 7 {
				b.Fatal(cv, ok)
			}
		}
	})
	b.Run("int/region-floor", func(b *testing.B) {
		r := dogpile.NewRegion()
		cv := driver.CachedValue{Payload: 7, Metadata: driver.Metadata{CreatedAt: time.Now(), Version: driver.ValueVersion}}
		if err := r.ConfigureBackend(constBackend{cv}, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
			b.Fatal(err)
		}
		create := func(context.Context) (int, error) { return 7, nil }
		b.ReportAllocs()
		for b.Loop() {
			if v, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil || v != 7 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("int/otter", func(b *testing.B) {
		c := boundedOtter(memory.DefaultMaxEntries, memory.DefaultMaxBytes, intCost, 2*time.Hour, nil)
		c.Set(key, 7)
		b.ReportAllocs()
		for b.Loop() {
			if v, ok := c.GetIfPresent(key); !ok || v != 7 {
				b.Fatal(v, ok)
			}
		}
	})
	b.Run("int/otter-coarse", func(b *testing.B) {
		c := boundedOtter(memory.DefaultMaxEntries, memory.DefaultMaxBytes, intCost, 2*time.Hour, coarse)
		c.Set(key, 7)
		b.ReportAllocs()
		for b.Loop() {
			if v, ok := c.GetIfPresent(key); !ok || v != 7 {
				b.Fatal(v, ok)
			}
		}
	})
	b.Run("2KB/dogpile", func(b *testing.B) {
		r, _ := newMemoryRegion(b, time.Hour)
		create := func(context.Context) (string, error) { return page, nil }
		if _, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if v, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil || len(v) != 2048 {
				b.Fatal(len(v), err)
			}
		}
	})
	b.Run("2KB/otter", func(b *testing.B) {
		c := boundedOtter(memory.DefaultMaxEntries, memory.DefaultMaxBytes, strCost, 2*time.Hour, nil)
		c.Set(key, page)
		b.ReportAllocs()
		for b.Loop() {
			if v, ok := c.GetIfPresent(key); !ok || len(v) != 2048 {
				b.Fatal(len(v), ok)
			}
		}
	})
	b.Run("2KB/otter-coarse", func(b *testing.B) {
		c := boundedOtter(memory.DefaultMaxEntries, memory.DefaultMaxBytes, strCost, 2*time.Hour, coarse)
		c.Set(key, page)
		b.ReportAllocs()
		for b.Loop() {
			if v, ok := c.GetIfPresent(key); !ok || len(v) != 2048 {
				b.Fatal(len(v), ok)
			}
		}
	})
}

// constBackend holds one value under every key: a region on it measures
// the region's own part of a hit.
type constBackend struct{ cv driver.CachedValue }

func (c constBackend) Get(context.Context, string) (driver.CachedValue, bool, error) {
	return c.cv, true, nil
}

func (c constBackend) GetMulti(_ context.Context, keys []string) ([]driver.CachedValue, error) {
	out := make([]driver.CachedValue, len(keys))
	for i := range out {
		out[i] = c.cv
	}
	return out, nil
}

func (constBackend) Set(context.Context, string, driver.CachedValue) error { return nil }
func (constBackend) SetMulti(context.Context, []driver.Item) error         { return nil }
func (constBackend) Delete(context.Context, string) error                  { return nil }
func (constBackend) DeleteMulti(context.Context, []string) error           { return nil }

// heapAlloc returns the heap allocated after two collections.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// benchEntries is how many entries the heap benchmarks hold.
const benchEntries = 1_000_000

// fill writes benchEntries keys "user:<6 digits>" with 100-byte strings.
func fill(set func(key, value string)) {
	pad := strings.Repeat("v", 94)
	for i := range benchEntries {
		id := strconv.Itoa(100000 + i)
		set("user:"+id, pad+id)
	}
}

// BenchmarkMemoryHeap measures the heap a million entries take (keys
// like "user:123456", 100-byte string values): on the memory backend,
// written through a region, and in an otter cache configured the same
// way, storing the strings. "B/entry" is the heap grown per entry, after
// a collection. For the backend, "retained-%" is the heap left once every
// entry expired, as a share of that growth: the region's expiration is
// 5 s (a time to live of 10 s, longer than the writes take on a busy
// machine), and nothing touches the cache until its clean-up removed
// them. Run it with -benchtime=1x: one iteration takes 15-25 s.
func BenchmarkMemoryHeap(b *testing.B) {
	ctx := context.Background()
	b.Run("dogpile", func(b *testing.B) {
		for b.Loop() {
			base := heapAlloc()
			be, err := memory.New(memory.Options{MaxEntries: 2 * benchEntries, MaxBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			r := dogpile.NewRegion()
			if err := r.ConfigureBackend(be, dogpile.Config{ExpirationTime: 5 * time.Second}); err != nil {
				b.Fatal(err)
			}
			expired := make(chan struct{}, benchEntries)
			be.NotifyEvictions(func(_ string, exp bool) { // in place of the region's: counted here
				if exp {
					expired <- struct{}{}
				}
			})
			start := time.Now()
			fill(func(k, v string) {
				if err := r.Set(ctx, k, v); err != nil {
					b.Fatal(err)
				}
			})
			written := time.Since(start)
			if n := len(expired); n > 0 {
				b.Fatalf("%d entries expired while %d were written in %v", n, benchEntries, written)
			}
			full := heapAlloc()
			if be.Len() != benchEntries {
				b.Fatalf("Len() = %d", be.Len())
			}
			b.ReportMetric(float64(full-base)/benchEntries, "B/entry")
			timeout := time.After(time.Minute)
			for range benchEntries {
				select {
				case <-expired:
				case <-timeout:
					b.Fatalf("%d entries left a minute after they were written", be.Len())
				}
			}
			left := heapAlloc()
			b.ReportMetric(100*(float64(left)-float64(base))/float64(full-base), "retained-%")
			b.ReportMetric(time.Since(start).Seconds(), "emptied-s")
			runtime.KeepAlive(be)
		}
	})
	b.Run("otter", func(b *testing.B) {
		for b.Loop() {
			base := heapAlloc()
			c := boundedOtter(2*benchEntries, 1<<30, func(s string) int64 { return int64(len(s)) }, 10*time.Second, nil)
			fill(func(k, v string) { c.Set(k, v) })
			full := heapAlloc()
			if c.EstimatedSize() != benchEntries {
				b.Fatalf("EstimatedSize() = %d", c.EstimatedSize())
			}
			b.ReportMetric(float64(full-base)/benchEntries, "B/entry")
			runtime.KeepAlive(c)
		}
	})
}
