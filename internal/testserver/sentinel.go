package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// sentinelService is the name under which the sentinel monitors the master.
const sentinelService = "mymaster"

// RedisSentinel is a Redis master with one Sentinel monitoring it,
// started by StartRedisSentinel.
type RedisSentinel struct {
	// MasterAddr is the master redis-server's "127.0.0.1:port" address.
	MasterAddr string
	// SentinelAddr is the sentinel's "127.0.0.1:port" address.
	SentinelAddr string
	// ServiceName is the name the sentinel knows the master by
	// ("mymaster"), as a Sentinel client's master name.
	ServiceName string
}

// StartRedisSentinel starts a master redis-server and one Redis Sentinel
// (quorum 1) monitoring it as "mymaster", both on free loopback ports,
// and returns once the sentinel answers SENTINEL get-master-addr-by-name
// with the master's address. Both are stopped when the test ends.
//
// The sentinel is redis-server run with --sentinel, the same program the
// redis-sentinel command runs.
func StartRedisSentinel(tb testing.TB) *RedisSentinel {
	tb.Helper()
	master := StartRedis(tb)
	path := lookBinary(tb, "redis-server", "redis-server")
	dir := tb.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	srv := startServer(tb, serverSpec{
		name: "redis-server --sentinel",
		path: path,
		dir:  dir,
		args: func(port int) ([]string, error) {
			// A sentinel rewrites its configuration file, so each start
			// gets a fresh one.
			cfg := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
dir %s
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %[3]s 5000
sentinel failover-timeout %[3]s 60000
`, port, dir, sentinelService, master.srv.port)
			if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
				return nil, err
			}
			return []string{conf, "--sentinel"}, nil
		},
		probe: func(addr string, pid int) error {
			if err := probeRedis(addr, pid); err != nil {
				return err
			}
			return checkSentinelMaster(addr, master.Addr)
		},
	})
	return &RedisSentinel{
		MasterAddr:   master.Addr,
		SentinelAddr: srv.addr(),
		ServiceName:  sentinelService,
	}
}

// checkSentinelMaster checks that the sentinel at addr reports masterAddr
// as the address of sentinelService.
func checkSentinelMaster(addr, masterAddr string) error {
	v, err := redisDo(addr, "SENTINEL", "get-master-addr-by-name", sentinelService)
	if err != nil {
		return err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return fmt.Errorf("SENTINEL get-master-addr-by-name: got %#v", v)
	}
	host, _ := arr[0].(string)
	port, _ := arr[1].(string)
	if got := host + ":" + port; got != masterAddr {
		return fmt.Errorf("SENTINEL get-master-addr-by-name: got %s, want %s", got, masterAddr)
	}
	return nil
}
