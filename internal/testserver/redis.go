package testserver

import (
	"strconv"
	"testing"
)

// Redis is a redis-server started by StartRedis.
type Redis struct {
	// Addr is the server's "127.0.0.1:port" address. It stays the same
	// across Restart.
	Addr string

	srv *server
}

// StartRedis starts a redis-server on a free loopback port for the
// duration of the test and returns it once it answers PING. The server
// keeps no data on disk and is stopped when the test ends.
func StartRedis(tb testing.TB) *Redis {
	tb.Helper()
	srv := startServer(tb, redisSpec(tb, nil))
	return &Redis{Addr: srv.addr(), srv: srv}
}

// URL returns the server's address as a Redis URL for database 0,
// "redis://127.0.0.1:port/0".
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// Stop stops the server (SIGTERM, then SIGKILL after 5 seconds) and waits
// for it to exit, which takes about 100 ms (redis acts on SIGTERM in its
// 10 Hz cron). Its data is lost. Stopping a stopped server does nothing.
func (r *Redis) Stop() { r.srv.stop() }

// Restart stops the server if it is running and starts an empty one on
// the same address, returning once it answers PING. It fails tb if the
// server cannot be started.
func (r *Redis) Restart(tb testing.TB) {
	tb.Helper()
	r.srv.restart(tb)
}

// redisSpec describes a redis-server in a fresh temporary directory,
// with extra arguments appended to the command line.
func redisSpec(tb testing.TB, extra []string) serverSpec {
	tb.Helper()
	path := lookBinary(tb, "redis-server", "redis-server")
	dir := tb.TempDir()
	return serverSpec{
		name: "redis-server",
		path: path,
		dir:  dir,
		args: func(port int) ([]string, error) {
			args := []string{
				"--port", strconv.Itoa(port),
				"--bind", "127.0.0.1",
				"--protected-mode", "no",
				"--save", "",
				"--appendonly", "no",
				"--dir", dir,
			}
			return append(args, extra...), nil
		},
		probe: probeRedis,
	}
}
