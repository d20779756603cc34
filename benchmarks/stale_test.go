package benchmarks

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
)

// BenchmarkStaleDuringRegeneration measures the callers that are served
// an expired value while one caller regenerates it: dogpile's GetOrCreate
// with a creation held open, and otter's Get with a refresh held open.
// Every core calls at once; each call is timed, and the p50 and p99 of
// those times are reported beside ns/op.
func BenchmarkStaleDuringRegeneration(b *testing.B) {
	ctx := context.Background()
	const key = "page:home"
	b.Run("dogpile", func(b *testing.B) {
		r := dogpile.NewRegion()
		if err := r.ConfigureBackend(must(memory.New(memory.Options{TTL: memory.NoTTL})), dogpile.Config{ExpirationTime: time.Millisecond}); err != nil {
			b.Fatal(err)
		}
		if err := r.Set(ctx, key, "old"); err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // the value is expired now
		release, entered := make(chan struct{}), make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) {
				close(entered)
				<-release
				return "new", nil
			})
		}()
		<-entered
		create := func(context.Context) (string, error) { b.Error("a second creation"); return "", nil }
		timed(b, func() {
			if v, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil || v != "old" {
				b.Error(v, err)
			}
		})
		close(release)
		<-done
	})
	b.Run("otter", func(b *testing.B) {
		release, entered := make(chan struct{}), make(chan struct{})
		var once sync.Once
		loader := otter.LoaderFunc[string, string](func(ctx context.Context, key string) (string, error) {
			once.Do(func() { close(entered) })
			<-release
			return "new", nil
		})
		c := otter.Must(&otter.Options[string, string]{
			MaximumSize:       10_000,
			RefreshCalculator: otter.RefreshWriting[string, string](time.Millisecond),
		})
		c.Set(key, "old")
		time.Sleep(10 * time.Millisecond) // due for a refresh now
		if v, err := c.Get(ctx, key, loader); err != nil || v != "old" {
			b.Fatal(v, err)
		}
		<-entered
		timed(b, func() {
			if v, err := c.Get(ctx, key, loader); err != nil || v != "old" {
				b.Error(v, err)
			}
		})
		close(release)
	})
}

// timed runs call b.N times from every core and reports the p50 and p99
// of the calls' times.
func timed(b *testing.B, call func()) {
	b.Helper()
	var mu sync.Mutex
	var all []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			start := time.Now()
			call()
			local = append(local, time.Since(start))
		}
		mu.Lock()
		all = append(all, local...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "p99-ns")
}
