package memcached

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
)

// open returns a backend built from args, closed when t ends.
func open(t testing.TB, args dogpile.Arguments) *Backend {
	t.Helper()
	b, err := New(args)
	if err != nil {
		t.Fatalf("New(%v): %v", args, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// region returns a region on b expiring values after exp.
func region(t testing.TB, b dogpile.Backend, exp time.Duration, opts ...dogpile.Option) *dogpile.Region {
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
