//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file

import (
	"context"
	"strconv"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// benchValue is an entry of the wire format, as a region writes it.
var benchValue = driver.EncodeEntry(driver.Metadata{Version: driver.ValueVersion}, []byte(`{"name":"some cached value","n":42}`))

func BenchmarkGetBytesHit(b *testing.B) {
	be := open(b, "")
	ctx := context.Background()
	must(b, be.SetBytes(ctx, "key", benchValue))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := be.GetBytes(ctx, "key"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkGetBytesHitParallel(b *testing.B) {
	be := open(b, "")
	ctx := context.Background()
	must(b, be.SetBytes(ctx, "key", benchValue))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, err := be.GetBytes(ctx, "key"); !ok || err != nil {
				b.Error(ok, err)
				return
			}
		}
	})
}

func BenchmarkSetBytes(b *testing.B) {
	be := open(b, "", WithCompactionThreshold(4<<20))
	ctx := context.Background()
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := be.SetBytes(ctx, keys[i%len(keys)], benchValue); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRegionGetOrCreateHit(b *testing.B) {
	be := open(b, "")
	r := dogpile.NewRegion()
	must(b, r.ConfigureBackend(be, dogpile.Config{}))
	type user struct {
		Name string
		N    int
	}
	ctx := context.Background()
	creator := func(context.Context) (user, error) { return user{"some cached value", 42}, nil }
	if _, err := dogpile.GetOrCreate(ctx, r, "key", creator); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dogpile.GetOrCreate(ctx, r, "key", creator); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetBytesHitNoLockFiles(b *testing.B) {
	be := open(b, "", WithoutRWLockFile(), WithoutDogpileLockFile())
	ctx := context.Background()
	must(b, be.SetBytes(ctx, "key", benchValue))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := be.GetBytes(ctx, "key"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
