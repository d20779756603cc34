package testserver_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/internal/testserver"
)

// The tests talk to the servers over raw TCP with their own small protocol
// code, independent of the package's.

// redisCall sends one command to addr and returns the reply: a string for
// simple strings, bulk strings and errors ("-ERR ..."), "<nil>" for a null
// reply, and []any for arrays.
func redisCall(t *testing.T, addr string, args ...string) any {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(conn, "$%d\r\n%s\r\n", len(a), a)
	}
	v, err := readReply(bufio.NewReader(conn))
	if err != nil {
		t.Fatalf("%s %v: %v", addr, args, err)
	}
	return v
}

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return line, nil
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "<nil>", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		var arr []any
		for range n {
			v, err := readReply(r)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// memcachedCall sends raw text to addr and reads reply lines until one
// equals end.
func memcachedCall(t *testing.T, addr, req, end string) []string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s %q: %v (read %q)", addr, req, err, lines)
		}
		line = strings.TrimSuffix(line, "\r\n")
		lines = append(lines, line)
		if line == end || strings.HasPrefix(line, "ERROR") {
			return lines
		}
	}
}

func wantRefused(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("dial %s after Stop: connected, want refused", addr)
	}
}

func wantLoopback(t *testing.T, addr string) {
	t.Helper()
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("address %q is not on 127.0.0.1", addr)
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	start := time.Now()
	r := testserver.StartRedis(t)
	t.Logf("redis-server ready on %s in %v", r.Addr, time.Since(start))
	wantLoopback(t, r.Addr)

	if got := redisCall(t, r.Addr, "PING"); got != "PONG" {
		t.Fatalf("PING = %v, want PONG", got)
	}
	if got := redisCall(t, r.Addr, "SET", "k", "v1"); got != "OK" {
		t.Fatalf("SET = %v, want OK", got)
	}
	if got := redisCall(t, r.Addr, "GET", "k"); got != "v1" {
		t.Fatalf("GET = %v, want v1", got)
	}
	if want := "redis://" + r.Addr + "/0"; r.URL() != want {
		t.Fatalf("URL() = %q, want %q", r.URL(), want)
	}
	// Nothing is persisted.
	cfg := redisCall(t, r.Addr, "CONFIG", "GET", "save")
	if arr, ok := cfg.([]any); !ok || len(arr) != 2 || arr[1] != "" {
		t.Fatalf("CONFIG GET save = %#v, want empty", cfg)
	}
}

func TestRedisStopRestart(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t)
	addr := r.Addr
	redisCall(t, addr, "SET", "k", "v")

	r.Stop()
	wantRefused(t, addr)
	r.Stop() // stopping twice is harmless

	start := time.Now()
	r.Restart(t)
	t.Logf("redis-server restarted in %v", time.Since(start))
	if r.Addr != addr {
		t.Fatalf("Addr changed across Restart: %s -> %s", addr, r.Addr)
	}
	if got := redisCall(t, addr, "PING"); got != "PONG" {
		t.Fatalf("PING after Restart = %v", got)
	}
	if got := redisCall(t, addr, "GET", "k"); got != "<nil>" {
		t.Fatalf("GET after Restart = %v, want a fresh empty server", got)
	}

	// Restarting a running server works too.
	redisCall(t, addr, "SET", "k", "v")
	r.Restart(t)
	if got := redisCall(t, addr, "GET", "k"); got != "<nil>" {
		t.Fatalf("GET after second Restart = %v, want a fresh empty server", got)
	}
}

func TestRedisParallelServersAreSeparate(t *testing.T) {
	t.Parallel()
	const n = 4
	var (
		mu    sync.Mutex
		addrs = map[string]bool{}
	)
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				r := testserver.StartRedis(t)
				mu.Lock()
				dup := addrs[r.Addr]
				addrs[r.Addr] = true
				mu.Unlock()
				if dup {
					t.Fatalf("address %s handed out twice", r.Addr)
				}
				val := strconv.Itoa(i)
				redisCall(t, r.Addr, "SET", "who", val)
				if got := redisCall(t, r.Addr, "GET", "who"); got != val {
					t.Fatalf("GET who = %v, want %s", got, val)
				}
				if got := redisCall(t, r.Addr, "DBSIZE"); got != "1" {
					t.Fatalf("DBSIZE = %v, want 1", got)
				}
			})
		}
	})
	if len(addrs) != n {
		t.Fatalf("got %d distinct addresses, want %d", len(addrs), n)
	}
}

func TestMemcached(t *testing.T) {
	t.Parallel()
	start := time.Now()
	m := testserver.StartMemcached(t)
	t.Logf("memcached ready on %s in %v", m.Addr, time.Since(start))
	wantLoopback(t, m.Addr)

	if got := memcachedCall(t, m.Addr, "set k 0 0 5\r\nhello\r\n", "STORED"); got[len(got)-1] != "STORED" {
		t.Fatalf("set = %q", got)
	}
	got := memcachedCall(t, m.Addr, "get k\r\n", "END")
	if want := []string{"VALUE k 0 5", "hello", "END"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("get = %q, want %q", got, want)
	}
}

func TestMemcachedStopRestart(t *testing.T) {
	t.Parallel()
	m := testserver.StartMemcached(t)
	addr := m.Addr
	memcachedCall(t, addr, "set k 0 0 1\r\nx\r\n", "STORED")

	m.Stop()
	wantRefused(t, addr)
	m.Stop()

	start := time.Now()
	m.Restart(t)
	t.Logf("memcached restarted in %v", time.Since(start))
	if m.Addr != addr {
		t.Fatalf("Addr changed across Restart: %s -> %s", addr, m.Addr)
	}
	if got := memcachedCall(t, addr, "get k\r\n", "END"); len(got) != 1 {
		t.Fatalf("get after Restart = %q, want a fresh empty server", got)
	}
	memcachedCall(t, addr, "set k 0 0 1\r\ny\r\n", "STORED")
	if got := memcachedCall(t, addr, "get k\r\n", "END"); len(got) != 3 || got[1] != "y" {
		t.Fatalf("get = %q", got)
	}
}

// TestMemcachedPauseResume: a paused server accepts connections and
// commands but answers nothing until it is resumed; then it answers what
// it was sent meanwhile.
func TestMemcachedPauseResume(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pausing a server needs Linux")
	}
	t.Parallel()
	m := testserver.StartMemcached(t)
	memcachedCall(t, m.Addr, "set k 0 0 1\r\nx\r\n", "STORED")

	m.Pause(t)
	conn, err := net.DialTimeout("tcp", m.Addr, time.Second)
	if err != nil {
		t.Fatalf("dial a paused server: %v; want its kernel to accept", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "get k\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var ne net.Error
	if line, err := r.ReadString('\n'); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read from a paused server = %q, %v; want a timeout", line, err)
	}

	m.Resume(t)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || line != "VALUE k 0 1\r\n" {
		t.Fatalf("after Resume: %q, %v; want the answer to the get sent while paused", line, err)
	}

	// Stopping a paused server works (it is resumed first).
	m.Pause(t)
	start := time.Now()
	m.Stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stopping a paused server took %v; want it resumed, then stopped within memcached's second", d)
	}
	wantRefused(t, m.Addr)
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := testserver.StartRedisCluster(t, 3)
	t.Logf("redis cluster of %d ready in %v: %v", len(c.Addrs), time.Since(start), c.Addrs)
	if len(c.Addrs) != 3 {
		t.Fatalf("got %d addresses, want 3", len(c.Addrs))
	}
	for _, addr := range c.Addrs {
		wantLoopback(t, addr)
		info, _ := redisCall(t, addr, "CLUSTER", "INFO").(string)
		for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3", "cluster_size:3"} {
			if !strings.Contains(info, want+"\r\n") {
				t.Errorf("%s: CLUSTER INFO lacks %q:\n%s", addr, want, info)
			}
		}
	}

	// Keys spread over the masters: a write through the first node gets
	// redirected for keys in other nodes' slots.
	owners := map[string]bool{}
	for i := range 20 {
		key, val := fmt.Sprintf("key-%d", i), strconv.Itoa(i)
		addr := c.Addrs[0]
		reply := redisCall(t, addr, "SET", key, val)
		if s, _ := reply.(string); strings.HasPrefix(s, "-MOVED ") {
			addr = strings.Fields(s)[2]
			reply = redisCall(t, addr, "SET", key, val)
		}
		if reply != "OK" {
			t.Fatalf("SET %s = %v", key, reply)
		}
		if got := redisCall(t, addr, "GET", key); got != val {
			t.Fatalf("GET %s on %s = %v, want %s", key, addr, got, val)
		}
		owners[addr] = true
	}
	if len(owners) != 3 {
		t.Errorf("20 keys landed on %d masters, want 3", len(owners))
	}
}

func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := testserver.StartRedisSentinel(t)
	t.Logf("redis master %s + sentinel %s ready in %v", s.MasterAddr, s.SentinelAddr, time.Since(start))
	wantLoopback(t, s.MasterAddr)
	wantLoopback(t, s.SentinelAddr)
	if s.ServiceName != "mymaster" {
		t.Fatalf("ServiceName = %q, want mymaster", s.ServiceName)
	}

	got := redisCall(t, s.SentinelAddr, "SENTINEL", "get-master-addr-by-name", s.ServiceName)
	arr, ok := got.([]any)
	if !ok || len(arr) != 2 || fmt.Sprintf("%v:%v", arr[0], arr[1]) != s.MasterAddr {
		t.Fatalf("SENTINEL get-master-addr-by-name = %#v, want %s", got, s.MasterAddr)
	}
	if got := redisCall(t, s.MasterAddr, "SET", "k", "v"); got != "OK" {
		t.Fatalf("SET on master = %v", got)
	}
	if got := redisCall(t, s.MasterAddr, "GET", "k"); got != "v" {
		t.Fatalf("GET on master = %v", got)
	}
}

// fakeTB records Skipf and Fatalf instead of ending the real test, and
// hands everything else to the real one.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with f in its own goroutine, which Skipf and Fatalf end.
func (f *fakeTB) run(fn func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
}

func TestMissingBinarySkipsOrFailsInCI(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no binaries at all
	starts := []struct {
		name, pkg string
		start     func(testing.TB)
	}{
		{"StartRedis", "redis-server", func(tb testing.TB) { testserver.StartRedis(tb) }},
		{"StartMemcached", "memcached", func(tb testing.TB) { testserver.StartMemcached(tb) }},
		{"StartRedisCluster", "redis-", func(tb testing.TB) { testserver.StartRedisCluster(tb, 3) }},
		{"StartRedisSentinel", "redis-server", func(tb testing.TB) { testserver.StartRedisSentinel(tb) }},
	}
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		for _, s := range starts {
			f := &fakeTB{TB: t}
			f.run(s.start)
			msg, other := f.skipped, f.failed
			if ci == "true" {
				msg, other = f.failed, f.skipped
			}
			if msg == "" || other != "" {
				t.Errorf("CI=%q %s: skipped %q, failed %q; want only a %s", ci, s.name, f.skipped, f.failed,
					map[string]string{"": "skip", "true": "failure"}[ci])
				continue
			}
			if !strings.Contains(msg, "Debian package "+s.pkg) {
				t.Errorf("CI=%q %s: message %q does not name the Debian package %s", ci, s.name, msg, s.pkg)
			}
		}
	}
}

func TestRedisClusterNeedsThreeMasters(t *testing.T) {
	f := &fakeTB{TB: t}
	f.run(func(tb testing.TB) { testserver.StartRedisCluster(tb, 2) })
	if !strings.Contains(f.failed, "at least 3") {
		t.Fatalf("StartRedisCluster(tb, 2): failed %q, want a failure", f.failed)
	}
}

func BenchmarkStartStopRedis(b *testing.B) {
	for b.Loop() {
		testserver.StartRedis(b).Stop()
	}
}

func BenchmarkStartStopMemcached(b *testing.B) {
	for b.Loop() {
		testserver.StartMemcached(b).Stop()
	}
}

func TestRestartFailsWhenPortTaken(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t)
	r.Stop()
	l, err := net.Listen("tcp", r.Addr)
	if err != nil {
		t.Skipf("cannot take the port back after Stop: %v", err)
	}
	defer l.Close()

	f := &fakeTB{TB: t}
	f.run(r.Restart)
	if f.failed == "" {
		t.Fatal("Restart succeeded on a port someone else listens on")
	}
	for _, want := range []string{"restart redis-server", r.Addr, "server output (tail)", "attempt 5"} {
		if !strings.Contains(f.failed, want) {
			t.Errorf("failure message lacks %q:\n%s", want, f.failed)
		}
	}
	t.Logf("failure message:\n%s", f.failed)
}
