package benchmarks

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
)

// BenchmarkHit compares a fresh hit on one key: dogpile's typed
// GetOrCreate on the memory backend, otter's GetIfPresent, and a map
// behind a sync.RWMutex as the floor.
func BenchmarkHit(b *testing.B) {
	ctx := context.Background()
	const key = "user:7"
	b.Run("dogpile", func(b *testing.B) {
		r := dogpile.NewRegion()
		if err := r.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{ExpirationTime: time.Hour}); err != nil {
			b.Fatal(err)
		}
		create := func(context.Context) (int, error) { return 7, nil }
		if _, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if v, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil || v != 7 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("otter", func(b *testing.B) {
		c := otter.Must(&otter.Options[string, int]{MaximumSize: 10_000, ExpiryCalculator: otter.ExpiryWriting[string, int](time.Hour)})
		c.Set(key, 7)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if v, ok := c.GetIfPresent(key); !ok || v != 7 {
				b.Fatal(v, ok)
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		var mu sync.RWMutex
		m := map[string]int{key: 7}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			mu.RLock()
			v := m[key]
			mu.RUnlock()
			if v != 7 {
				b.Fatal(v)
			}
		}
	})
}

// BenchmarkHitParallel is BenchmarkHit from every core, on 1,024 keys.
func BenchmarkHitParallel(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	b.Run("dogpile", func(b *testing.B) {
		r := dogpile.NewRegion()
		if err := r.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{ExpirationTime: time.Hour}); err != nil {
			b.Fatal(err)
		}
		create := func(context.Context) (int, error) { return 7, nil }
		for _, k := range keys {
			if _, err := dogpile.GetOrCreate(ctx, r, k, create); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := dogpile.GetOrCreate(ctx, r, keys[i&1023], create); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("otter", func(b *testing.B) {
		c := otter.Must(&otter.Options[string, int]{MaximumSize: 10_000, ExpiryCalculator: otter.ExpiryWriting[string, int](time.Hour)})
		for _, k := range keys {
			c.Set(k, 7)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, ok := c.GetIfPresent(keys[i&1023]); !ok {
					b.Error("miss")
					return
				}
			}
		})
	})
}
