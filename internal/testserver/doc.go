// Package testserver starts real cache servers for tests: redis-server
// (standalone, cluster and sentinel) and memcached.
//
// Every server belongs to one test. It is started on a free port on
// 127.0.0.1, runs in a directory from tb.TempDir, persists nothing, and is
// stopped by tb.Cleanup when the test ends, so tests can run in parallel
// and a package needs no setup beyond the binaries being installed
// (scripts/test-deps.sh installs them on Debian).
//
//	func TestSomething(t *testing.T) {
//		r := testserver.StartRedis(t)
//		// connect a client to r.Addr (or r.URL()) ...
//	}
//
// A server is ready when Start returns: the package has dialled it and had
// a real answer to a command (PING for Redis, version for memcached), and
// has checked that the answer came from the process it started rather than
// from another server that took the same port. Startup polls every 10 ms
// and gives up after 10 seconds, failing the test with the tail of the
// server's output.
//
// Redis and Memcached can be stopped and restarted on the same address,
// which lets tests exercise a backend going away and coming back.
//
// When a server binary is not installed the test is skipped with a message
// naming the Debian package to install, except when the environment
// variable CI is "true": then the test fails, so that CI never passes by
// skipping.
//
// The package uses only the standard library; it speaks just enough of the
// Redis protocol (RESP) and of the memcached text protocol to check
// readiness and set up clusters and sentinels.
package testserver
