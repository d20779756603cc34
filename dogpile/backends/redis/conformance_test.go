package redis_test

import (
	"maps"
	"net"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/dogpiletest"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// opener returns a dogpiletest.Options.New that opens name with args, as
// a region configured by name does, and closes the backend when the
// subtest ends.
func opener(name string, args driver.Arguments) func(t *testing.T) driver.Backend {
	return func(t *testing.T) driver.Backend {
		t.Helper()
		b, err := driver.Open(name, args)
		if err != nil {
			t.Fatalf("Open(%s): %v", name, err)
		}
		t.Cleanup(func() {
			if c, ok := b.(interface{ Close() error }); ok {
				if err := c.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
		})
		return b
	}
}

// newer returns a dogpiletest.Options.New that builds a backend with New
// on the client newClient returns, and closes that client when the
// subtest ends: the backend does not.
func newer[C goredis.UniversalClient](newClient func() C, opts redis.Options) func(t *testing.T) driver.Backend {
	return func(t *testing.T) driver.Backend {
		t.Helper()
		c := newClient()
		t.Cleanup(func() { _ = c.Close() })
		b, err := redis.New(c, opts)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return b
	}
}

// hostPort splits addr into the host and port arguments.
func hostPort(t testing.TB, addr string) driver.Arguments {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return driver.Arguments{"host": host, "port": n, "db": 0}
}

func with(base driver.Arguments, kv ...any) driver.Arguments {
	out := maps.Clone(base)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// TestConformance runs the backend suite on one standalone server, in
// every configuration that changes what the backend does.
func TestConformance(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	base := hostPort(t, srv.Addr)
	// A client given as it is; a Ring shards keys itself, so multi-key
	// calls go one key per command.
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": srv.Addr}})
	t.Cleanup(func() { _ = ring.Close() })
	newClient := func() *goredis.Client { return goredis.NewClient(&goredis.Options{Addr: srv.Addr}) }
	newRing := func() *goredis.Ring {
		return goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": srv.Addr}})
	}
	typed := []struct {
		name string
		new  func(t *testing.T) driver.Backend
	}{
		{"new", newer(newClient, redis.Options{})},
		{"new_distributed_lock", newer(newClient, redis.Options{DistributedLock: true, LockPrefix: "_lok.", ServerTTL: redis.NoServerTTL})},
		{"new_ring", newer(newRing, redis.Options{DistributedLock: true, ServerTTL: time.Hour})},
		{"new_near_cache", func(t *testing.T) driver.Backend {
			b, _ := nearClient(t, srv.Addr, redis.NearCacheOptions{}, redis.Options{DistributedLock: true}, nil)
			return b
		}},
	}
	for _, c := range typed {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dogpiletest.TestBackend(t, dogpiletest.Options{New: c.new})
		})
	}
	cases := []struct {
		name, backend string
		args          driver.Arguments
	}{
		{"ring_client", redis.Name, driver.Arguments{"client": ring, "distributed_lock": true}},
		{"redis", redis.Name, base},
		{"redis_distributed_lock", redis.Name, with(base, "distributed_lock", true)},
		{"redis_lock_prefix", redis.Name, with(base, "distributed_lock", true, "lock_prefix", "_lok.")},
		{"redis_url", redis.Name, driver.Arguments{"url": srv.URL(), "distributed_lock": true}},
		{"valkey", redis.ValkeyName, with(base, "distributed_lock", true)},
		{"redis_near_cache", redis.Name, with(base, "distributed_lock", true, "near_cache", true)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dogpiletest.TestBackend(t, dogpiletest.Options{New: opener(c.backend, c.args)})
		})
	}
}

// TestConformanceCluster runs the suite on a Redis Cluster of three
// masters, where multi-key calls are split by hash slot.
func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	c := testserver.StartRedisCluster(t, 3)
	nodes := make([]any, len(c.Addrs))
	for i, a := range c.Addrs {
		nodes[i] = a
	}
	cases := []struct {
		name, backend string
		args          driver.Arguments
	}{
		{"redis_cluster", redis.ClusterName, driver.Arguments{"startup_nodes": nodes, "distributed_lock": true}},
		{"valkey_cluster", redis.ValkeyClusterName, driver.Arguments{"startup_nodes": c.Addrs[0]}},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			t.Parallel()
			dogpiletest.TestBackend(t, dogpiletest.Options{New: opener(cs.backend, cs.args)})
		})
	}
	t.Run("new_cluster", func(t *testing.T) {
		t.Parallel()
		newCluster := func() *goredis.ClusterClient {
			return goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs})
		}
		dogpiletest.TestBackend(t, dogpiletest.Options{New: newer(newCluster, redis.Options{DistributedLock: true})})
	})
}

// TestConformanceSentinel runs the suite on the master a Sentinel names;
// the sentinel names have the distributed lock by default.
func TestConformanceSentinel(t *testing.T) {
	t.Parallel()
	s := testserver.StartRedisSentinel(t)
	cases := []struct {
		name, backend string
		args          driver.Arguments
	}{
		{"redis_sentinel", redis.SentinelName, driver.Arguments{"sentinels": []any{s.SentinelAddr}, "service_name": s.ServiceName, "db": 0}},
		{"valkey_sentinel", redis.ValkeySentinelName, driver.Arguments{"sentinels": s.SentinelAddr, "service_name": s.ServiceName}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dogpiletest.TestBackend(t, dogpiletest.Options{New: opener(c.backend, c.args)})
		})
	}
	t.Run("new_failover", func(t *testing.T) {
		t.Parallel()
		newFailover := func() *goredis.Client {
			return goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: s.ServiceName, SentinelAddrs: []string{s.SentinelAddr}})
		}
		dogpiletest.TestBackend(t, dogpiletest.Options{New: newer(newFailover, redis.Options{DistributedLock: true})})
	})
}
