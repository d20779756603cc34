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
func region(t testing.TB, exp time.Duration, name string, args dogpile.Arguments, opts ...dogpile.Option) *dogpile.Region {
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
	cases := []struct {
		name   string
		region time.Duration
		args   dogpile.Arguments
		want   time.Duration
	}{
		{"derived from the region", 10 * time.Second, base, 20 * time.Second},
		{"redis_expiration_time", 10 * time.Second, with(base, "redis_expiration_time", 5), 5 * time.Second},
		{"redis_expiration_time zero", 10 * time.Second, with(base, "redis_expiration_time", 0), -1},
		{"region without expiration", 0, base, -1},
		{"valkey_expiration_time", 0, with(base, "valkey_expiration_time", 7), 7 * time.Second},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := redis.Name
			if _, ok := c.args["valkey_expiration_time"]; ok {
				name = redis.ValkeyName
			}
			r := region(t, c.region, name, c.args)
			p := fmt.Sprintf("ttl:%d:", i)

			if err := r.Set(ctx, p+"set", "v"); err != nil {
				t.Fatal(err)
			}
			if err := r.SetMulti(ctx, map[string]any{p + "m1": 1, p + "m2": 2, p + "m3": 3}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.GetOrCreate(ctx, p+"goc", func(context.Context) (any, error) { return "c", nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := r.GetOrCreateMulti(ctx, []string{p + "gm1", p + "gm2"}, func(_ context.Context, keys []string) ([]any, error) {
				return []any{1, 2}, nil
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
		r := region(t, tc.exp, redis.ClusterName, dogpile.Arguments{"startup_nodes": c.Addrs})
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
		vals, found, err := r.GetMulti(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			if !found[i] || fmt.Sprint(vals[i]) != fmt.Sprint(m[k]) {
				t.Errorf("GetMulti %s = %v, %v; want %v", k, vals[i], found[i], m[k])
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
