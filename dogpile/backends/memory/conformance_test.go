package memory_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/dogpiletest"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// small are bounds that the suite's writes overflow once the cache is
// full: each subtest runs on a cache filled to MaxEntries beforehand, so
// that every write evicts. Bounds smaller still fail the suite, which
// expects a value written a moment ago to be found: once the admission
// window (1% of MaxBytes) holds fewer entries than a subtest writes, a key
// written once into a full cache may be refused at once (see the package
// documentation).
var small = memory.Options{MaxEntries: 1000, MaxBytes: 16 << 20}

func TestConformance(t *testing.T) {
	t.Run("ValuesDefaults", func(t *testing.T) {
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend { return mustNew(t, memory.Options{}) },
		})
	})
	t.Run("BytesDefaults", func(t *testing.T) {
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend { return mustNewBytes(t, memory.Options{}) },
		})
	})
	fillers := keysN("filler:", small.MaxEntries)
	var evicted atomic.Int64 // fillers the subtests' writes evicted
	t.Run("ValuesFull", func(t *testing.T) {
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend {
				b := mustNew(t, small)
				for i, k := range fillers {
					if err := b.Set(ctx, k, value(i, time.Now())); err != nil {
						t.Fatal(err)
					}
				}
				b.CleanUp()
				t.Cleanup(func() {
					n, _ := stored(t, b, fillers)
					evicted.Add(int64(len(fillers) - n))
				})
				return b
			},
			Evicts: true,
		})
	})
	t.Run("BytesFull", func(t *testing.T) {
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend {
				b := mustNewBytes(t, small)
				for _, k := range fillers {
					if err := b.SetBytes(ctx, k, []byte(k)); err != nil {
						t.Fatal(err)
					}
				}
				b.CleanUp()
				t.Cleanup(func() {
					vs, _ := b.GetBytesMulti(ctx, fillers)
					for _, v := range vs {
						if v == nil {
							evicted.Add(1)
						}
					}
				})
				return b
			},
			Evicts: true,
		})
	})
	if evicted.Load() == 0 {
		t.Error("the suite's writes evicted no filler: the Full runs test no eviction")
	}
	t.Logf("the Full runs evicted %d fillers", evicted.Load())
}
