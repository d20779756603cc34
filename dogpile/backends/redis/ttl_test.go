package redis_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// rawClient is a plain go-redis client on addr, to look behind the
// backend's back.
func rawClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// region returns a region configured with the named backend and args.
func region(t testing.TB, exp time.Duration, name string, args driver.Arguments, opts ...dogpile.Option) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion(opts...)
	if err := r.Configure(name, dogpile.Config{ExpirationTime: exp, Arguments: args}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// wantPTTL checks the server-side TTL of every key: within 1 s below
// want, or exactly want when want is negative (-1: no TTL).
func wantPTTL(t *testing.T, c *goredis.Client, want time.Duration, keys ...string) {
	t.Helper()
	for _, k := range keys {
		got, err := c.PTTL(context.Background(), k).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", k, err)
		}
		if want < 0 && got != want || want >= 0 && (got > want || got < want-time.Second) {
			t.Errorf("PTTL %s = %v; want %v", k, got, want)
		}
	}
}

func TestServerTTL(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	base := hostPort(t, srv.Addr)
	byName := func(name string, args driver.Arguments) func(t *testing.T, exp time.Duration) *dogpile.Region {
		return func(t *testing.T, exp time.Duration) *dogpile.Region { return region(t, exp, name, args) }
	}
	// The same rules through New and ConfigureBackend.
	client := rawClient(t, srv.Addr)
	typed := func(opts redis.Options) func(t *testing.T, exp time.Duration) *dogpile.Region {
		return func(t *testing.T, exp time.Duration) *dogpile.Region {
			b, err := redis.New(client, opts)
			if err != nil {
				t.Fatal(err)
			}
			r := dogpile.NewRegion()
			if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: exp}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			return r
		}
	}
	cases := []struct {
		name   string
		region time.Duration
		open   func(t *testing.T, exp time.Duration) *dogpile.Region
		want   time.Duration
	}{
		{"derived from the region", 10 * time.Second, byName(redis.Name, base), 20 * time.Second},
		{"redis_expiration_time", 10 * time.Second, byName(redis.Name, with(base, "redis_expiration_time", 5)), 5 * time.Second},
		{"redis_expiration_time zero", 10 * time.Second, byName(redis.Name, with(base, "redis_expiration_time", 0)), -1},
		{"region without expiration", 0, byName(redis.Name, base), -1},
		{"valkey_expiration_time", 0, byName(redis.ValkeyName, with(base, "valkey_expiration_time", 7)), 7 * time.Second},
		{"New derived from the region", 10 * time.Second, typed(redis.Options{}), 20 * time.Second},
		{"New ServerTTL", 10 * time.Second, typed(redis.Options{ServerTTL: 5 * time.Second}), 5 * time.Second},
		{"New NoServerTTL", 10 * time.Second, typed(redis.Options{ServerTTL: redis.NoServerTTL}), -1},
		{"New region without expiration", 0, typed(redis.Options{}), -1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.open(t, c.region)
			p := fmt.Sprintf("ttl:%d:", i)

			if err := r.Set(ctx, p+"set", "v"); err != nil {
				t.Fatal(err)
			}
			if err := r.SetMulti(ctx, map[string]any{p + "m1": 1, p + "m2": 2, p + "m3": 3}); err != nil {
				t.Fatal(err)
			}
			if _, err := dogpile.GetOrCreate(ctx, r, p+"goc", func(context.Context) (string, error) { return "c", nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{p + "gm1", p + "gm2"}, func(_ context.Context, keys []string) (map[string]int, error) {
				return map[string]int{keys[0]: 1, keys[1]: 2}, nil
			}); err != nil {
				t.Fatal(err)
			}
			wantPTTL(t, raw, c.want, p+"set", p+"m1", p+"m2", p+"m3", p+"goc", p+"gm1", p+"gm2")
		})
	}
}

// TestServerTTLCluster checks the TTL of multi writes split by slot.
func TestServerTTLCluster(t *testing.T) {
	t.Parallel()
	c := testserver.StartRedisCluster(t, 3)
	ctx := context.Background()
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = cc.Close() })
	for _, tc := range []struct {
		exp  time.Duration
		want time.Duration
	}{{10 * time.Second, 20 * time.Second}, {0, -1}} {
		r := region(t, tc.exp, redis.ClusterName, driver.Arguments{"startup_nodes": c.Addrs})
		m := map[string]any{}
		var keys []string
		for i := range 20 {
			k := fmt.Sprintf("cttl:%v:%d", tc.exp, i)
			m[k], keys = i, append(keys, k)
		}
		m["{tag}a"], m["{tag}b"] = "a", "b" // one slot: one MSET or two SETs
		keys = append(keys, "{tag}a", "{tag}b")
		if err := r.SetMulti(ctx, m); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			got, err := cc.PTTL(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if tc.want < 0 && got != tc.want || tc.want > 0 && (got > tc.want || got < tc.want-time.Second) {
				t.Errorf("region expiration %v: PTTL %s = %v; want %v", tc.exp, k, got, tc.want)
			}
		}
		vals, err := dogpile.GetMulti[any](ctx, r, keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if v, found := vals[k]; !found || fmt.Sprint(v) != fmt.Sprint(m[k]) {
				t.Errorf("GetMulti %s = %v, %v; want %v", k, v, found, m[k])
			}
		}
		if err := r.DeleteMulti(ctx, keys); err != nil {
			t.Fatal(err)
		}
		if n := cc.Exists(ctx, keys[0]).Val() + cc.Exists(ctx, "{tag}a", "{tag}b").Val(); n != 0 {
			t.Errorf("%d keys left after DeleteMulti", n)
		}
	}
}

// discard is a logger that drops everything, for regions that log on
// purpose.
var discard = slog.New(slog.DiscardHandler)
