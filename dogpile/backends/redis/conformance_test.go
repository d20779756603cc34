package redis_test

import (
	"maps"
	"net"
	"strconv"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/dogpiletest"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// opener returns a dogpiletest.Options.New that opens name with args and
// closes the backend when the subtest ends.
func opener(name string, args dogpile.Arguments) func(t *testing.T) dogpile.Backend {
	return func(t *testing.T) dogpile.Backend {
		t.Helper()
		b, err := dogpile.OpenBackend(name, args)
		if err != nil {
			t.Fatalf("OpenBackend(%s): %v", name, err)
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

// hostPort splits addr into the host and port arguments.
func hostPort(t testing.TB, addr string) dogpile.Arguments {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return dogpile.Arguments{"host": host, "port": n, "db": 0}
}

func with(base dogpile.Arguments, kv ...any) dogpile.Arguments {
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
	cases := []struct {
		name, backend string
		args          dogpile.Arguments
	}{
		{"ring_client", redis.Name, dogpile.Arguments{"client": ring, "distributed_lock": true}},
		{"redis", redis.Name, base},
		{"redis_distributed_lock", redis.Name, with(base, "distributed_lock", true)},
		{"redis_lock_prefix", redis.Name, with(base, "distributed_lock", true, "lock_prefix", "_lok.")},
		{"redis_url", redis.Name, dogpile.Arguments{"url": srv.URL(), "distributed_lock": true}},
		{"valkey", redis.ValkeyName, with(base, "distributed_lock", true)},
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
		args          dogpile.Arguments
	}{
		{"redis_cluster", redis.ClusterName, dogpile.Arguments{"startup_nodes": nodes, "distributed_lock": true}},
		{"valkey_cluster", redis.ValkeyClusterName, dogpile.Arguments{"startup_nodes": c.Addrs[0]}},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			t.Parallel()
			dogpiletest.TestBackend(t, dogpiletest.Options{New: opener(cs.backend, cs.args)})
		})
	}
}

// TestConformanceSentinel runs the suite on the master a Sentinel names;
// the sentinel names have the distributed lock by default.
func TestConformanceSentinel(t *testing.T) {
	t.Parallel()
	s := testserver.StartRedisSentinel(t)
	cases := []struct {
		name, backend string
		args          dogpile.Arguments
	}{
		{"redis_sentinel", redis.SentinelName, dogpile.Arguments{"sentinels": []any{s.SentinelAddr}, "service_name": s.ServiceName, "db": 0}},
		{"valkey_sentinel", redis.ValkeySentinelName, dogpile.Arguments{"sentinels": s.SentinelAddr, "service_name": s.ServiceName}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dogpiletest.TestBackend(t, dogpiletest.Options{New: opener(c.backend, c.args)})
		})
	}
}
