package redis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// benchValue is a small struct whose JSON is about 100 bytes.
type benchValue struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Tags  []string `json:"tags"`
}

func newBenchValue(i int) benchValue {
	return benchValue{ID: i, Name: "Ada Lovelace", Email: "ada@example.com", Tags: []string{"admin", "math", "engines"}}
}

// BenchmarkHit compares a hit through the typed GetOrCreate with a raw
// go-redis GET of the same entry on the same server.
func BenchmarkHit(b *testing.B) {
	srv := testserver.StartRedis(b)
	ctx := context.Background()
	r := region(b, time.Hour, redis.Name, hostPort(b, srv.Addr))
	const key = "bench:hit"
	if err := r.Set(ctx, key, newBenchValue(1)); err != nil {
		b.Fatal(err)
	}
	raw := rawClient(b, srv.Addr)
	entry, err := raw.Get(ctx, key).Bytes()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("entry: %d bytes", len(entry))
	creator := func(context.Context) (benchValue, error) { return benchValue{}, fmt.Errorf("not cached") }

	b.Run("raw-GET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := raw.Get(ctx, key).Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-GET+json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, err := raw.Get(ctx, key).Bytes()
			if err != nil {
				b.Fatal(err)
			}
			var v benchValue
			if err := json.Unmarshal(e[bytes.IndexByte(e, '|')+1:], &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetOrCreate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dogpile.GetOrCreate(ctx, r, key, creator); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMulti compares the typed GetMulti of 100 keys with a raw
// go-redis MGET of the same keys.
func BenchmarkMulti(b *testing.B) {
	srv := testserver.StartRedis(b)
	ctx := context.Background()
	r := region(b, time.Hour, redis.Name, hostPort(b, srv.Addr))
	keys := make([]string, 100)
	values := make(map[string]any, len(keys))
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:multi:%d", i)
		values[keys[i]] = newBenchValue(i)
	}
	if err := r.SetMulti(ctx, values); err != nil {
		b.Fatal(err)
	}
	raw := rawClient(b, srv.Addr)

	b.Run("raw-MGET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vals, err := raw.MGet(ctx, keys...).Result()
			if err != nil || len(vals) != len(keys) || vals[99] == nil {
				b.Fatal(err)
			}
		}
	})
	// A raw MGET that also decodes what it read, as any client of these
	// entries must: the floor for GetMulti with the JSON codec.
	b.Run("raw-MGET+json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vals, err := raw.MGet(ctx, keys...).Result()
			if err != nil || len(vals) != len(keys) {
				b.Fatal(err)
			}
			out := make([]benchValue, len(vals))
			for i, v := range vals {
				s := v.(string)
				if err := json.Unmarshal([]byte(s[strings.IndexByte(s, '|')+1:]), &out[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("GetMulti", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := dogpile.GetMulti[benchValue](ctx, r, keys)
			if err != nil || len(m) != len(keys) {
				b.Fatal(err)
			}
		}
	})

	// The same without decoding JSON payloads: what the backend and the
	// region cost apart from the codec.
	backend := driver.Unwrap(r.Backend()).(*redis.Backend)
	b.Run("backend-GetBytesMulti", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			entries, err := backend.GetBytesMulti(ctx, keys)
			if err != nil || entries[99] == nil {
				b.Fatal(err)
			}
		}
	})
	rawRegion := dogpile.NewRegion(dogpile.WithCodec(bytesCodec{}))
	if err := rawRegion.ConfigureBackend(backend, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		b.Fatal(err)
	}
	b.Run("GetMulti-bytes-codec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := dogpile.GetMulti[[]byte](ctx, rawRegion, keys)
			if err != nil || len(m) != len(keys) {
				b.Fatal(err)
			}
		}
	})
}

// bytesCodec passes []byte payloads through as they are.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }

func (bytesCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = data
	return nil
}

// fragment is a 2 KB template fragment, as a page cache holds.
var fragment = strings.Repeat(`<li class="item"><a href="/p/1234">A product name</a> <span>$12.00</span></li>`+"\n", 26)[:2048]

// noMemo hides the Memos of a near cache from the region, which then
// decodes every hit: the near cache without the decode skip.
type noMemo struct{ driver.ProxyBackend }

func (p *noMemo) GetBytesMemo(ctx context.Context, key string) ([]byte, *driver.Memo, bool, error) {
	b, ok, err := p.Next.(driver.BytesBackend).GetBytes(ctx, key)
	return b, nil, ok, err
}

// BenchmarkNearHit compares, in one run, a hit of a 2 KB fragment through
// dogpile.GetOrCreate[string] on the memory backend, on Redis through the
// near cache (with the region's decode skip, and without it), on Redis
// without a near cache, and go-redis's own client-side cache (a GET
// answered by its LocalCache, no region).
func BenchmarkNearHit(b *testing.B) {
	srv := testserver.StartRedis(b)
	ctx := context.Background()
	const key = "frag:home"
	creator := func(context.Context) (string, error) { return fragment, nil }
	hit := func(b *testing.B, r *dogpile.Region) {
		b.Helper()
		if _, err := dogpile.GetOrCreate(ctx, r, key, creator); err != nil {
			b.Fatal(err)
		}
		for range 3 { // into the near cache, and its Memo
			if _, err := dogpile.GetOrCreate(ctx, r, key, creator); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if v, err := dogpile.GetOrCreate(ctx, r, key, creator); err != nil || len(v) != len(fragment) {
				b.Fatal(len(v), err)
			}
		}
	}
	configured := func(b *testing.B, be driver.Backend) *dogpile.Region {
		r := dogpile.NewRegion()
		if err := r.ConfigureBackend(be, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = r.Close() })
		return r
	}
	b.Run("memory", func(b *testing.B) {
		be, err := memory.New(memory.Options{})
		if err != nil {
			b.Fatal(err)
		}
		hit(b, configured(b, be))
	})
	b.Run("near-cache", func(b *testing.B) {
		be := openBackend(b, redis.Name, with(hostPort(b, srv.Addr), "near_cache", true))
		hit(b, configured(b, be))
	})
	b.Run("near-cache-no-memo", func(b *testing.B) {
		be := openBackend(b, redis.Name, with(hostPort(b, srv.Addr), "near_cache", true))
		hit(b, configured(b, &noMemo{driver.ProxyBackend{Next: be}}))
	})
	b.Run("redis", func(b *testing.B) {
		be := openBackend(b, redis.Name, hostPort(b, srv.Addr))
		hit(b, configured(b, be))
	})
	b.Run("go-redis-LocalCache", func(b *testing.B) {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr, ClientSideCacheConfig: &goredis.ClientSideCacheConfig{}})
		b.Cleanup(func() { _ = c.Close() })
		if err := c.Set(ctx, "frag:raw", fragment, 0).Err(); err != nil {
			b.Fatal(err)
		}
		for range 2 {
			if _, err := c.Get(ctx, "frag:raw").Result(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if v, err := c.Get(ctx, "frag:raw").Bytes(); err != nil || len(v) != len(fragment) {
				b.Fatal(len(v), err)
			}
		}
	})
}
