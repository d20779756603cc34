package memcached

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// testTimeout is the socket timeout of the tests' clients unless a test
// sets its own: memcache.DefaultTimeout (500 ms) is short enough for a
// loaded machine to make a loopback round trip miss it.
const testTimeout = 5 * time.Second

// open returns a backend built from args by the registered factory, on a
// client of its own, closed when t ends. Without a socket_timeout in args,
// the client's is testTimeout.
func open(t testing.TB, args driver.Arguments) *Backend {
	t.Helper()
	if _, ok := args["socket_timeout"]; !ok {
		args = maps.Clone(args)
		args["socket_timeout"] = testTimeout
	}
	b, err := driver.Open(Name, args)
	if err != nil {
		t.Fatalf("driver.Open(%v): %v", args, err)
	}
	mb := b.(*Backend)
	t.Cleanup(func() { _ = mb.Close() })
	return mb
}

// openClient returns a backend built by New on client, whose idle
// connections are closed when t ends.
func openClient(t testing.TB, client *memcache.Client, opts Options) *Backend {
	t.Helper()
	b, err := New(client, opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return b
}

// region returns a region on b expiring values after exp.
func region(t testing.TB, b driver.Backend, exp time.Duration, opts ...dogpile.Option) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion(opts...)
	if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: exp}); err != nil {
		t.Fatal(err)
	}
	return r
}

// rawClient is a plain memcache client on addrs, to look at what the
// backend stored without going through it.
func rawClient(t testing.TB, addrs ...string) *memcache.Client {
	t.Helper()
	c := memcache.New(addrs...)
	c.Timeout = testTimeout
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// keyPrefix makes keys unique to a test run.
func keyPrefix(t testing.TB) string {
	return strings.NewReplacer("/", ":", " ", "_").Replace(t.Name()) + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
}

// meta runs one memcached meta command over a fresh connection and returns
// its first reply line, without the line ending.
func meta(t testing.TB, addr, cmd string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s\r\n", cmd); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return strings.TrimRight(line, "\r\n")
}

// remainingTTL returns the seconds memcached will keep key (-1: no TTL),
// and false when the key is missing, with the meta command "mg <key> t".
func remainingTTL(t testing.TB, addr, key string) (int, bool) {
	t.Helper()
	line := meta(t, addr, "mg "+key+" t")
	if line == "EN" {
		return 0, false
	}
	for _, f := range strings.Fields(line)[1:] {
		if v, ok := strings.CutPrefix(f, "t"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("mg %s: %q", key, line)
			}
			return n, true
		}
	}
	t.Fatalf("mg %s t: no TTL in %q", key, line)
	return 0, false
}

// countingClient is a memcache client on addr whose connections count the
// bytes written to the server.
func countingClient(addr string, written *atomic.Int64) *memcache.Client {
	c := memcache.New(addr)
	c.Timeout = testTimeout
	c.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, a)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, n: written}, nil
	}
	return c
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.Conn.Write(p)
}

// within fails t unless d is at most limit.
func within(t testing.TB, what string, d, limit time.Duration) {
	t.Helper()
	if d > limit {
		t.Errorf("%s took %v; want at most %v", what, d, limit)
	}
}

func memcacheItem(key, value string) *memcache.Item {
	return &memcache.Item{Key: key, Value: []byte(value)}
}

// asNetTimeout reports whether err wraps a net.Error that timed out.
func asNetTimeout(err error, ne *net.Error) bool {
	return errors.As(err, ne) && (*ne).Timeout()
}

// idleConns counts the pipeline's idle connections to addr.
func (p *pipeline) idleConns(addr string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle[addr])
}
