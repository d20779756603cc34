package testserver

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const (
	clusterCreateTimeout = time.Minute      // for redis-cli --cluster create
	clusterReadyTimeout  = 30 * time.Second // for every node to report cluster_state:ok
)

// RedisCluster is a Redis Cluster started by StartRedisCluster: masters
// only, no replicas, with the 16384 hash slots spread over them.
type RedisCluster struct {
	// Addrs holds the "127.0.0.1:port" address of every master; any of
	// them can seed a cluster client.
	Addrs []string

	nodes []*server
}

// StartRedisCluster starts masters (at least 3) redis-server nodes with
// cluster-enabled yes on free loopback ports, joins them with
// redis-cli --cluster create, and returns once CLUSTER INFO reports
// cluster_state:ok on every node, which takes 2 to 4 seconds (redis-cli
// waits for the nodes to join in one-second steps). The nodes are stopped
// when the test ends.
func StartRedisCluster(tb testing.TB, masters int) *RedisCluster {
	tb.Helper()
	if masters < 3 {
		tb.Fatalf("testserver: StartRedisCluster: need at least 3 masters, got %d", masters)
	}
	cli := lookBinary(tb, "redis-cli", "redis-tools")
	c := &RedisCluster{}
	for range masters {
		spec := redisSpec(tb, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
		})
		spec.busOffset = clusterBusOffset
		srv := startServer(tb, spec)
		c.nodes = append(c.nodes, srv)
		c.Addrs = append(c.Addrs, srv.addr())
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterCreateTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("testserver: redis-cli %s: %v\n%s%s", strings.Join(args, " "), err, out, c.tails())
	}

	if err := c.waitOK(); err != nil {
		tb.Fatalf("testserver: redis cluster %v: %v%s", c.Addrs, err, c.tails())
	}
	return c
}

// waitOK polls CLUSTER INFO on every node until each reports
// cluster_state:ok with every slot served and every master known.
func (c *RedisCluster) waitOK() error {
	deadline := time.Now().Add(clusterReadyTimeout)
	for _, addr := range c.Addrs {
		for {
			err := c.nodeOK(addr)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("not ready after %v: %w", clusterReadyTimeout, err)
			}
			time.Sleep(pollInterval)
		}
	}
	return nil
}

func (c *RedisCluster) nodeOK(addr string) error {
	info, err := redisString(addr, "CLUSTER", "INFO")
	if err != nil {
		return fmt.Errorf("%s: CLUSTER INFO: %w", addr, err)
	}
	want := map[string]string{
		"cluster_state":       "ok",
		"cluster_slots_ok":    "16384",
		"cluster_known_nodes": fmt.Sprint(len(c.Addrs)),
	}
	for k, v := range want {
		if got, _ := infoField(info, k); got != v {
			return fmt.Errorf("%s: CLUSTER INFO %s is %q, want %q", addr, k, got, v)
		}
	}
	return nil
}

func (c *RedisCluster) tails() string {
	var b strings.Builder
	for i, n := range c.nodes {
		fmt.Fprintf(&b, "\n\tnode %d (%s):%s", i, c.Addrs[i], n.out.tail())
	}
	return b.String()
}
