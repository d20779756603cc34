package memcached

import (
	"context"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// page is a value of about 100 bytes of JSON.
type page struct {
	ID    int      `json:"id"`
	Title string   `json:"title"`
	Tags  []string `json:"tags"`
	Views int      `json:"views"`
}

// BenchmarkHit compares a region's typed GetOrCreate hit with a raw
// gomemcache Get of the same bytes, on one memcached over loopback.
func BenchmarkHit(b *testing.B) {
	m := testserver.StartMemcached(b)
	ctx := context.Background()
	backend := open(b, driver.Arguments{"url": m.Addr})
	r := region(b, backend, time.Hour)
	const key = "bench:page:42"
	want := page{ID: 42, Title: "The dogpile lock, explained", Tags: []string{"cache", "go", "memcached"}, Views: 1234}
	if err := r.Set(ctx, key, want); err != nil {
		b.Fatal(err)
	}
	raw := rawClient(b, m.Addr)
	raw.MaxIdleConns = defaultMaxIdleConns
	it, err := raw.Get(key)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("entry: %d bytes", len(it.Value))
	creator := func(context.Context) (page, error) {
		b.Fatal("creator called on a hit")
		return page{}, nil
	}

	b.Run("region/GetOrCreate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := dogpile.GetOrCreate(ctx, r, key, creator)
			if err != nil || v.ID != 42 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("gomemcache/Get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			it, err := raw.Get(key)
			if err != nil || len(it.Value) == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("backend/GetBytes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := backend.GetBytes(ctx, key); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
