package dogpile_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// rwMap is the baseline every hit is compared with: a map behind an
// RWMutex, the least a concurrent in-process cache can do.
type rwMap struct {
	mu sync.RWMutex
	m  map[string]int
}

func (m *rwMap) get(k string) (int, bool) {
	m.mu.RLock()
	v, ok := m.m[k]
	m.mu.RUnlock()
	return v, ok
}

func benchRegion(b *testing.B, backend driver.Backend) *dogpile.Region {
	r := dogpile.NewRegion()
	if err := r.ConfigureBackend(backend, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkHit compares a fresh hit through the region with the baseline
// map in one run.
func BenchmarkHit(b *testing.B) {
	ctx := context.Background()
	creator := func(context.Context) (int, error) { return 42, nil }
	anyCreator := func(context.Context) (any, error) { return 42, nil }

	b.Run("baseline=map+RWMutex", func(b *testing.B) {
		m := &rwMap{m: map[string]int{"key": 42}}
		b.ReportAllocs()
		for b.Loop() {
			if v, ok := m.get("key"); !ok || v != 42 {
				b.Fatal(v)
			}
		}
	})
	b.Run("GetOrCreate[int]/memory", func(b *testing.B) {
		r := benchRegion(b, must(memory.New(memory.Options{})))
		_, _ = dogpile.GetOrCreate(ctx, r, "key", creator)
		b.ReportAllocs()
		for b.Loop() {
			if v, err := dogpile.GetOrCreate(ctx, r, "key", creator); err != nil || v != 42 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("GetOrCreate[any]/memory", func(b *testing.B) {
		r := benchRegion(b, must(memory.New(memory.Options{})))
		_, _ = dogpile.GetOrCreate(ctx, r, "key", anyCreator)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dogpile.GetOrCreate(ctx, r, "key", anyCreator); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get[int]/memory", func(b *testing.B) {
		r := benchRegion(b, must(memory.New(memory.Options{})))
		_ = r.Set(ctx, "key", 42)
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, _ := dogpile.Get[int](ctx, r, "key"); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("GetOrCreate[int]/memory_pickle", func(b *testing.B) {
		r := benchRegion(b, must(memory.NewBytes(memory.Options{})))
		_, _ = dogpile.GetOrCreate(ctx, r, "key", creator)
		b.ReportAllocs()
		for b.Loop() {
			if v, err := dogpile.GetOrCreate(ctx, r, "key", creator); err != nil || v != 42 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("GetOrCreateMulti[int]/memory/10keys", func(b *testing.B) {
		r := benchRegion(b, must(memory.New(memory.Options{})))
		keys := make([]string, 10)
		for i := range keys {
			keys[i] = "key" + strconv.Itoa(i)
		}
		multi := func(_ context.Context, ks []string) (map[string]int, error) {
			out := make(map[string]int, len(ks))
			for _, k := range ks {
				out[k] = 0
			}
			return out, nil
		}
		_, _ = dogpile.GetOrCreateMulti(ctx, r, keys, multi)
		b.ReportAllocs()
		for b.Loop() {
			if m, err := dogpile.GetOrCreateMulti(ctx, r, keys, multi); err != nil || len(m) != 10 {
				b.Fatal(m, err)
			}
		}
	})
}

// BenchmarkHitParallel shows that hits on different keys do not serialise:
// the region adds no lock of its own to the backend's read lock.
func BenchmarkHitParallel(b *testing.B) {
	ctx := context.Background()
	const nkeys = 1024
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(i)
	}
	creator := func(context.Context) (int, error) { return 42, nil }
	b.Run("baseline=map+RWMutex", func(b *testing.B) {
		m := &rwMap{m: map[string]int{}}
		for _, k := range keys {
			m.m[k] = 42
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				m.get(keys[i%nkeys])
				i++
			}
		})
	})
	b.Run("GetOrCreate[int]/memory", func(b *testing.B) {
		r := benchRegion(b, must(memory.New(memory.Options{})))
		for _, k := range keys {
			_, _ = dogpile.GetOrCreate(ctx, r, k, creator)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := dogpile.GetOrCreate(ctx, r, keys[i%nkeys], creator); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// BenchmarkStampede lets 1,000 goroutines ask for one expired key at once,
// per iteration, and reports how many times the creator ran per expiry.
func BenchmarkStampede(b *testing.B) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Unix(1_700_000_000, 0).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	r := dogpile.NewRegion(dogpile.WithClock(clock))
	if err := r.ConfigureBackend(must(memory.New(memory.Options{})), dogpile.Config{ExpirationTime: time.Second}); err != nil {
		b.Fatal(err)
	}
	var calls atomic.Int64
	creator := func(context.Context) (int, error) {
		calls.Add(1)
		time.Sleep(time.Millisecond) // a creation takes a while
		return 1, nil
	}
	const goroutines = 1000
	b.ReportAllocs()
	expiries := 0
	for b.Loop() {
		now.Add(int64(2 * time.Second))
		expiries++
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				<-start
				if _, err := dogpile.GetOrCreate(ctx, r, "hot", creator); err != nil {
					b.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
	}
	b.ReportMetric(float64(calls.Load())/float64(expiries), "creations/expiry")
}

func loadUserName(_ context.Context, id int) (string, error) { return "user " + strconv.Itoa(id), nil }

// BenchmarkFuncHit measures a cached function of one int argument on a hit:
// building its key and the typed region hit.
func BenchmarkFuncHit(b *testing.B) {
	ctx := context.Background()
	r := dogpile.NewRegion()
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		b.Fatal(err)
	}
	f := dogpile.Cache1(r, loadUserName)
	if _, err := f.Call(ctx, 123456); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Call(ctx, 123456); err != nil {
			b.Fatal(err)
		}
	}
}
