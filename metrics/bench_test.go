package metrics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/metrics"
)

// BenchmarkObserve is the Observer's own cost per event.
func BenchmarkObserve(b *testing.B) {
	obs := metrics.New()
	ctx := context.Background()
	e := observe.Event{Region: "users", Backend: "dogpile.cache.memory", Op: observe.OpGetOrCreate, Keys: []string{"user:1"},
		Results: []observe.Result{observe.Hit}, Duration: time.Microsecond, Size: -1}
	obs.Observe(ctx, e)
	b.ReportAllocs()
	for b.Loop() {
		obs.Observe(ctx, e)
	}
}

// BenchmarkObserveParallel measures contention on one region's counters.
func BenchmarkObserveParallel(b *testing.B) {
	obs := metrics.New()
	ctx := context.Background()
	e := observe.Event{Region: "users", Op: observe.OpGetOrCreate, Keys: []string{"user:1"},
		Results: []observe.Result{observe.Hit}, Duration: time.Microsecond, Size: -1}
	obs.Observe(ctx, e)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			obs.Observe(ctx, e)
		}
	})
}

// BenchmarkRegionHitMetrics is a typed GetOrCreate hit on a memory region without
// an observer and with the metrics Observer.
func BenchmarkRegionHitMetrics(b *testing.B) {
	ctx := context.Background()
	creator := func(context.Context) (int, error) { return 42, nil }
	for _, bc := range []struct {
		name string
		opts []dogpile.Option
	}{
		{"observer=none", nil},
		{"observer=metrics", []dogpile.Option{dogpile.WithObserver(metrics.New())}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := dogpile.NewRegion(append(bc.opts, dogpile.WithName("bench"))...)
			if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
				b.Fatal(err)
			}
			if _, err := dogpile.GetOrCreate(ctx, r, "key", creator); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if v, err := dogpile.GetOrCreate(ctx, r, "key", creator); err != nil || v != 42 {
					b.Fatal(v, err)
				}
			}
		})
	}
}

// BenchmarkNewRegions observes one event for each of n region names never
// seen before, on a new Observer: the cost of registering names, reported
// per name ("ns/name"). It must not grow with n.
func BenchmarkNewRegions(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000, 4000, 16000} {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("region-%d", i)
		}
		b.Run(fmt.Sprintf("names=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				obs := metrics.New()
				for _, name := range names {
					obs.Observe(ctx, observe.Event{Region: name, Op: observe.OpGet, Keys: []string{"k"},
						Results: []observe.Result{observe.Hit}, Duration: time.Microsecond, Size: -1})
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/name")
		})
	}
}
