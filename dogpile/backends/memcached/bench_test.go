package memcached

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

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

// BenchmarkMulti compares multi-key writes of 100 entries of about 140
// bytes with one pipelined round trip on a raw socket, and with the 100
// round trips of gomemcache's Set one key after the other.
func BenchmarkMulti(b *testing.B) {
	m := testserver.StartMemcached(b)
	ctx := context.Background()
	backend := open(b, driver.Arguments{"url": m.Addr})
	r := region(b, backend, time.Hour)
	const n = 100
	p := "bench:multi:"
	entry, err := json.Marshal(page{ID: 42, Title: "The dogpile lock, explained", Tags: []string{"cache", "go", "memcached"}, Views: 1234})
	if err != nil {
		b.Fatal(err)
	}
	entry = driver.EncodeEntry(driver.Metadata{CreatedAt: time.Now(), Version: driver.ValueVersion}, entry)
	items := make([]driver.BytesItem, n)
	keys := make([]string, n)
	values := make(map[string]any, n)
	for i := range items {
		keys[i] = p + strconv.Itoa(i)
		items[i] = driver.BytesItem{Key: keys[i], Value: entry}
		values[keys[i]] = page{ID: i, Title: "The dogpile lock, explained", Tags: []string{"cache", "go"}, Views: i}
	}
	b.Logf("entry: %d bytes", len(entry))

	b.Run("raw/pipelined-set-100", func(b *testing.B) {
		var cmds []byte
		for _, k := range keys {
			cmds = fmt.Appendf(cmds, "set %s 0 0 %d\r\n%s\r\n", k, len(entry), entry)
		}
		rawRoundTrip(b, m.Addr, cmds, n)
	})
	b.Run("raw/pipelined-delete-100", func(b *testing.B) {
		var cmds []byte
		for _, k := range keys {
			cmds = fmt.Appendf(cmds, "delete %s\r\n", k)
		}
		rawRoundTrip(b, m.Addr, cmds, n)
	})
	b.Run("backend/SetBytesMulti-100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := backend.SetBytesMulti(ctx, items); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backend/DeleteMulti-100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := backend.DeleteMulti(ctx, keys); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("region/SetMulti-100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.SetMulti(ctx, values); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gomemcache/Set-x100", func(b *testing.B) {
		raw := rawClient(b, m.Addr)
		raw.MaxIdleConns = defaultMaxIdleConns
		b.ReportAllocs()
		for b.Loop() {
			for _, it := range items {
				if err := raw.Set(&memcache.Item{Key: it.Key, Value: it.Value}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// rawRoundTrip writes cmds on one connection and reads n reply lines, per
// iteration: the cost of one pipelined round trip.
func rawRoundTrip(b *testing.B, addr string, cmds []byte, n int) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := conn.Write(cmds); err != nil {
			b.Fatal(err)
		}
		for range n {
			if _, err := r.ReadSlice('\n'); err != nil {
				b.Fatal(err)
			}
		}
	}
}
