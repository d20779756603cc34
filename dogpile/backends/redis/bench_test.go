package redis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
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
