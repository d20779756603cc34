package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/python"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// logCounter is a slog handler that keeps the messages it receives.
type logCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCounter) WithGroup(string) slog.Handler            { return l }

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.Key + "=" + a.Value.String()
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, msg)
	return nil
}

// offLogs returns the near cache's fallback messages.
func (l *logCounter) offLogs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.msgs {
		if strings.Contains(m, "near cache off") {
			out = append(out, m)
		}
	}
	return out
}

// nearClient builds a client on addr with a near cache of o, as the
// documentation says, edit changing its options first, and a backend on
// it with opts; both are closed when the test ends.
func nearClient(t testing.TB, addr string, o redis.NearCacheOptions, opts redis.Options, edit func(*goredis.Options)) (*redis.Backend, *redis.NearCache) {
	t.Helper()
	nc, err := redis.NewNearCache(o)
	if err != nil {
		t.Fatal(err)
	}
	co := &goredis.Options{
		Addr:                  addr,
		ClientSideCache:       nc,
		ClientSideCacheConfig: &goredis.ClientSideCacheConfig{DrainInterval: redis.NearCacheDrainInterval},
		ContextTimeoutEnabled: true,
	}
	if edit != nil {
		edit(co)
	}
	c := goredis.NewClient(co)
	t.Cleanup(func() { _ = c.Close() })
	opts.NearCache = nc
	b, err := redis.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b, nc
}

// calls returns how many times the server ran cmd (INFO commandstats).
func calls(t testing.TB, raw *goredis.Client, cmd string) int {
	t.Helper()
	info, err := raw.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return 0
}

// invalidationBound is how long a test waits for an invalidation before it
// calls the near cache stale: far above the few milliseconds they take, far
// below DefaultNearCacheTTL.
const invalidationBound = 2 * time.Second

// waitFor polls cond until it holds, failing t past invalidationBound, and
// returns how long it took.
func waitFor(t testing.TB, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > invalidationBound {
			t.Fatalf("%s: still not after %v", what, invalidationBound)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return time.Since(start)
}

// readNear reads key through b's near cache and fails t on an error.
func readNear(t testing.TB, b *redis.Backend, key string) (string, *driver.Memo, bool) {
	t.Helper()
	v, m, ok, err := b.GetBytesMemo(context.Background(), key)
	if err != nil {
		t.Fatalf("GetBytesMemo(%s): %v", key, err)
	}
	return string(v), m, ok
}

// TestNearCacheHits: the second read of an entry comes from process
// memory, with a Memo that stays the same, as do the bytes, until another
// client writes the key; missing keys are kept too; this process's own
// writes and deletes are seen at once.
func TestNearCacheHits(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	b, nc := nearClient(t, srv.Addr, redis.NearCacheOptions{}, redis.Options{}, nil)
	if b.NearCache() != nc {
		t.Fatal("NearCache() is not the near cache given")
	}
	if err := raw.Set(ctx, "k", "e1", 0).Err(); err != nil {
		t.Fatal(err)
	}

	if v, m, ok := readNear(t, b, "k"); v != "e1" || !ok || m != nil {
		t.Fatalf("first read = %q, %v, memo %p; want e1 from the server, without a Memo", v, ok, m)
	}
	gets := calls(t, raw, "get")
	first, m1, ok := readNear(t, b, "k")
	if first != "e1" || !ok || m1 == nil {
		t.Fatalf("second read = %q, %v, memo %p; want e1 from memory, with a Memo", first, ok, m1)
	}
	raw1, _, _, _ := b.GetBytesMemo(ctx, "k")
	m1.Store("decoded")
	for range 100 {
		v, m, _, err := b.GetBytesMemo(ctx, "k")
		if err != nil || string(v) != "e1" || m != m1 || &v[0] != &raw1[0] {
			t.Fatalf("hit = %q, memo %p, %v; want e1 in the same bytes, with Memo %p", v, m, err, m1)
		}
	}
	if got, ok := m1.Load(); !ok || got != "decoded" {
		t.Errorf("Memo holds %v, %v; want what was stored in it", got, ok)
	}
	if n := calls(t, raw, "get"); n != gets {
		t.Errorf("the server ran %d GETs for hits from memory", n-gets)
	}

	// Another client's write invalidates the entry: a new Memo, empty.
	if err := raw.Set(ctx, "k", "e2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "another client's write reaching the near cache", func() bool { v, _, _ := readNear(t, b, "k"); return v == "e2" })
	t.Logf("another client's write seen after %v", took)
	_, m2, _ := readNear(t, b, "k")
	if m2 == nil || m2 == m1 {
		t.Fatalf("Memo after the write = %p; want a new one (was %p)", m2, m1)
	}
	if v, ok := m2.Load(); ok {
		t.Errorf("the new Memo holds %v; want it empty", v)
	}

	// A missing key is kept as missing, until it is written.
	if _, _, ok := readNear(t, b, "absent"); ok {
		t.Fatal("absent key found")
	}
	gets = calls(t, raw, "get")
	for range 10 {
		if _, m, ok := readNear(t, b, "absent"); ok || m != nil {
			t.Fatalf("absent key: found %v, memo %p", ok, m)
		}
	}
	if n := calls(t, raw, "get"); n != gets {
		t.Errorf("the server ran %d GETs for a missing key held in memory", n-gets)
	}
	if err := raw.Set(ctx, "absent", "here", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a write of a key held as missing", func() bool { v, _, ok := readNear(t, b, "absent"); return ok && v == "here" })

	// This process's writes and deletes are seen at once.
	for i := range 50 {
		want := "own" + strconv.Itoa(i)
		readNear(t, b, "k")
		if err := b.SetBytes(ctx, "k", []byte(want)); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := readNear(t, b, "k"); v != want {
			t.Fatalf("read after SetBytes = %q; want %q at once", v, want)
		}
		if err := b.SetBytesMulti(ctx, []driver.BytesItem{{Key: "k", Value: []byte(want + "m")}}); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := readNear(t, b, "k"); v != want+"m" {
			t.Fatalf("read after SetBytesMulti = %q; want %q at once", v, want+"m")
		}
	}
	readNear(t, b, "k")
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := readNear(t, b, "k"); ok {
		t.Fatal("read after Delete found the key")
	}
	readNear(t, b, "absent")
	if err := b.DeleteMulti(ctx, []string{"absent"}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := readNear(t, b, "absent"); ok {
		t.Fatal("read after DeleteMulti found the key")
	}

	// GetBytesMulti serves what memory holds without the server.
	for _, k := range []string{"m1", "m2"} {
		if err := raw.Set(ctx, k, "v"+k, 0).Err(); err != nil {
			t.Fatal(err)
		}
		readNear(t, b, k)
	}
	readNear(t, b, "never")
	mgets := calls(t, raw, "mget")
	got, err := b.GetBytesMulti(ctx, []string{"m1", "m2", "never"})
	if err != nil || string(got[0]) != "vm1" || string(got[1]) != "vm2" || got[2] != nil {
		t.Fatalf("GetBytesMulti = %q, %v", got, err)
	}
	if n := calls(t, raw, "mget"); n != mgets {
		t.Errorf("the server ran %d MGETs for keys held in memory", n-mgets)
	}
	got, err = b.GetBytesMulti(ctx, []string{"m1", "unread"})
	if err != nil || string(got[0]) != "vm1" || got[1] != nil {
		t.Fatalf("GetBytesMulti of a key not held = %q, %v", got, err)
	}

	// FLUSHALL empties it.
	if err := raw.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "FLUSHALL reaching the near cache", func() bool { _, _, ok := readNear(t, b, "m1"); return !ok })
}

// TestNearCacheDirect: GetBytesDirect reads the server every time, and
// returns a write of another client as soon as the write returned, while
// the near cache may still hold the value before; after it, plain reads
// never return an older value than it did.
func TestNearCacheDirect(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	b, _ := nearClient(t, srv.Addr, redis.NearCacheOptions{}, redis.Options{}, nil)
	if err := raw.Set(ctx, "k", "v0", 0).Err(); err != nil {
		t.Fatal(err)
	}
	readNear(t, b, "k")
	readNear(t, b, "k")
	const n = 200
	mgets := calls(t, raw, "mget")
	for i := 1; i <= n; i++ {
		want := "v" + strconv.Itoa(i)
		if err := raw.Set(ctx, "k", want, 0).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := b.GetBytesDirect(ctx, []string{"k", "none"})
		if err != nil || string(got[0]) != want || got[1] != nil {
			t.Fatalf("GetBytesDirect after write %d = %q, %v; want %s", i, got, err, want)
		}
		if v, _, _ := readNear(t, b, "k"); v != want {
			t.Fatalf("read after GetBytesDirect returned %s = %q; want no older value", want, v)
		}
	}
	if got := calls(t, raw, "mget") - mgets; got != n {
		t.Errorf("the server ran %d MGETs for %d GetBytesDirect calls; want one each", got, n)
	}
}

// TestNearCacheBounds: the entry bound holds, and evicts by the clock
// algorithm (an entry read since it was kept outlives one that was not);
// the byte bound holds; an entry larger than it is never kept.
func TestNearCacheBounds(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	for i := range 10 {
		if err := raw.Set(ctx, "e"+strconv.Itoa(i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b, nc := nearClient(t, srv.Addr, redis.NearCacheOptions{MaxEntries: 8}, redis.Options{}, nil)
	for i := range 8 {
		readNear(t, b, "e"+strconv.Itoa(i))
	}
	if _, m, _ := readNear(t, b, "e0"); m == nil { // e0 is read since it was kept
		t.Fatal("e0 is not held")
	}
	readNear(t, b, "e8") // evicts e1
	if n := nc.Len(); n != 8 {
		t.Errorf("Len = %d; want the bound 8", n)
	}
	if _, m, _ := readNear(t, b, "e0"); m == nil {
		t.Error("e0, read since it was kept, was evicted")
	}
	if _, m, _ := readNear(t, b, "e1"); m != nil {
		t.Error("e1, never read since it was kept, is still held")
	}
	for i := range 10 {
		readNear(t, b, "e"+strconv.Itoa(i))
		if n := nc.Len(); n > 8 {
			t.Fatalf("Len = %d; want at most 8", n)
		}
	}

	const maxBytes = 2000
	big := strings.Repeat("x", 500)
	for i := range 5 {
		if err := raw.Set(ctx, "b"+strconv.Itoa(i), big, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Set(ctx, "huge", strings.Repeat("h", maxBytes), 0).Err(); err != nil {
		t.Fatal(err)
	}
	b, nc = nearClient(t, srv.Addr, redis.NearCacheOptions{MaxBytes: maxBytes}, redis.Options{}, nil)
	for range 2 {
		for i := range 5 {
			readNear(t, b, "b"+strconv.Itoa(i))
			if n := nc.Bytes(); n > maxBytes {
				t.Fatalf("Bytes = %d; want at most %d", n, maxBytes)
			}
		}
	}
	if n := nc.Len(); n != 2 {
		t.Errorf("Len = %d; want the 2 entries of 500 bytes that %d bytes hold", n, maxBytes)
	}
	gets := calls(t, raw, "get")
	for range 3 {
		if v, m, _ := readNear(t, b, "huge"); m != nil || len(v) != maxBytes {
			t.Fatalf("an entry over the byte bound: %d bytes, memo %p; want it read from the server", len(v), m)
		}
	}
	if n := calls(t, raw, "get") - gets; n != 3 {
		t.Errorf("%d GETs for 3 reads of an entry over the byte bound; want 3", n)
	}
}

// TestNearCacheTTL: an entry is not served from memory past the TTL,
// however quiet the key.
func TestNearCacheTTL(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	if err := raw.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	const ttl = 100 * time.Millisecond
	b, _ := nearClient(t, srv.Addr, redis.NearCacheOptions{TTL: ttl}, redis.Options{}, nil)
	readNear(t, b, "k")
	_, m1, _ := readNear(t, b, "k")
	if m1 == nil {
		t.Fatal("not held")
	}
	time.Sleep(ttl + 10*time.Millisecond) // the TTL runs on the real clock
	gets := calls(t, raw, "get")
	if _, m, _ := readNear(t, b, "k"); m != nil {
		t.Fatal("served from memory past the TTL")
	}
	if n := calls(t, raw, "get") - gets; n != 1 {
		t.Errorf("%d GETs for a read past the TTL; want 1", n)
	}
	if _, m, _ := readNear(t, b, "k"); m == nil || m == m1 {
		t.Errorf("read after the refresh: memo %p; want a new entry (was %p)", m, m1)
	}
}

// holdProxy forwards TCP connections to a server, and holds everything
// they carry while held: a network partition that closes nothing.
type holdProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	held   bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *holdProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.hold(false)
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *holdProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(s, c) })
		p.wg.Go(func() { p.pipe(c, s) })
	}
}

// pipe copies from src to dst, waiting while the proxy holds traffic.
func (p *holdProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.held {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *holdProxy) hold(h bool) {
	p.mu.Lock()
	p.held = h
	p.mu.Unlock()
	p.cond.Broadcast()
}

// TestNearCachePartition: invalidations held by a partition that closes
// no connection: the near cache serves the value it holds no longer than
// its TTL after reading it, then reads go to the server (and fail within
// the call budget, as the partition holds them too). Once the partition
// heals, the write made meanwhile is read.
func TestNearCachePartition(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	if err := raw.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, srv.Addr)
	const ttl = 300 * time.Millisecond
	b, _ := nearClient(t, proxy.ln.Addr().String(), redis.NearCacheOptions{TTL: ttl}, redis.Options{CallTimeout: 100 * time.Millisecond}, nil)
	readNear(t, b, "k")
	// The entry's TTL runs from before its read was sent, so from before
	// this instant: measured from here, no stale value may outlast it.
	read := time.Now()
	if _, m, _ := readNear(t, b, "k"); m == nil {
		t.Fatal("not held")
	}
	proxy.hold(true)
	if err := raw.Set(ctx, "k", "after", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var lastStale time.Duration
	for time.Since(read) < 3*ttl {
		v, _, _, err := b.GetBytesMemo(ctx, "k")
		if err == nil && string(v) == "before" {
			lastStale = time.Since(read)
			if lastStale > ttl {
				t.Fatalf("the value before the write served %v after it was read; want at most the TTL %v", lastStale, ttl)
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("during the partition the old value was served until %v after it was read (TTL %v)", lastStale, ttl)
	proxy.hold(false)
	waitFor(t, "the write made during the partition", func() bool {
		v, _, _, err := b.GetBytesMemo(ctx, "k")
		return err == nil && string(v) == "after"
	})
}

// TestNearCacheServerKilled: a server killed with SIGKILL resets the
// connections, and the near cache drops what they read at once; the
// server restarted empty, a process never serves from memory what it
// held before, and reads a new write within the invalidation delay. The
// same after a restart (SIGTERM).
func TestNearCacheServerKilled(t *testing.T) {
	t.Parallel()
	for _, kill := range []bool{true, false} {
		srv := testserver.StartRedis(t)
		raw := rawClient(t, srv.Addr)
		ctx := context.Background()
		b := openBackend(t, redis.Name, with(hostPort(t, srv.Addr), "near_cache", true, "socket_timeout", 0.5))
		if err := raw.Set(ctx, "k", "old", 0).Err(); err != nil {
			t.Fatal(err)
		}
		b.GetBytesMemo(ctx, "k")
		if _, m, _, _ := b.GetBytesMemo(ctx, "k"); m == nil {
			t.Fatal("not held")
		}
		if kill {
			srv.Kill()
		} else {
			srv.Restart(t)
		}
		start := time.Now() // the server is dead, or back
		took := waitFor(t, "the near cache dropping what the lost connections read", func() bool {
			v, m, _, err := b.GetBytesMemo(ctx, "k")
			if kill {
				return err != nil || m == nil
			}
			return err == nil && v == nil
		})
		how := map[bool]string{true: "killed", false: "restarted"}[kill]
		t.Logf("server %s: the near cache stopped serving the old value %v after it was", how, time.Since(start))
		if took > 500*time.Millisecond {
			t.Errorf("server %s: old value served for %v", how, took)
		}
		if kill {
			srv.Restart(t)
		}
		waitFor(t, "the backend working again", func() bool { _, _, err := b.GetBytes(ctx, "k"); return err == nil })
		for range 20 {
			if v, ok, err := b.GetBytes(ctx, "k"); err != nil || ok {
				t.Fatalf("server %s and back empty: GetBytes = %q, %v, %v; want a miss", how, v, ok, err)
			}
		}
		raw2 := rawClient(t, srv.Addr)
		if err := raw2.Set(ctx, "k", "new", 0).Err(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a write after the restart", func() bool { v, _, _ := b.GetBytes(ctx, "k"); return string(v) == "new" })
		if err := raw2.Set(ctx, "k", "newer", 0).Err(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a second write after the restart", func() bool { v, _, _ := b.GetBytes(ctx, "k"); return string(v) == "newer" })
	}
}

// TestNearCachePython: a write by a Python process (redis-py) invalidates
// a Go process's near cache entry, of a region shared with it.
func TestNearCachePython(t *testing.T) {
	t.Parallel()
	py := python.Interpreter(t, "redis")
	srv := testserver.StartRedis(t)
	host, port, _ := net.SplitHostPort(srv.Addr)
	r := region(t, time.Hour, redis.Name, with(hostPort(t, srv.Addr), "near_cache", true))
	ctx := context.Background()
	if err := r.Set(ctx, "py", "from go"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if v, ok, err := dogpile.Get[string](ctx, r, "py"); err != nil || !ok || v != "from go" {
			t.Fatalf("Get = %q, %v, %v", v, ok, err)
		}
	}
	b := driver.Unwrap(r.Backend()).(*redis.Backend)
	if _, m, _, _ := b.GetBytesMemo(ctx, "py"); m == nil {
		t.Fatal("not held in the near cache")
	}
	script := `import json, sys, time, redis
r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]))
r.set("py", json.dumps({"ct": time.time(), "v": 2}).encode() + b"|" + json.dumps("from python").encode())`
	out, err := exec.Command(py, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	took := waitFor(t, "redis-py's write reaching the Go near cache", func() bool {
		v, _, err := dogpile.Get[string](ctx, r, "py")
		return err == nil && v == "from python"
	})
	t.Logf("redis-py's write seen %v after the Python process exited", took)
}

// TestNearCacheRegion: a region on a near cache decodes an entry once,
// not at every hit, and decodes it again once another client wrote it.
func TestNearCacheRegion(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	b, _ := nearClient(t, srv.Addr, redis.NearCacheOptions{}, redis.Options{}, nil)
	codec := &countingCodec{}
	r := dogpile.NewRegion(dogpile.WithCodec(codec))
	if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	ctx := context.Background()
	creator := func(context.Context) (string, error) { return "", errors.New("not cached") }
	if err := r.Set(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if v, err := dogpile.GetOrCreate(ctx, r, "k", creator); err != nil || v != "v1" {
			t.Fatalf("GetOrCreate = %q, %v", v, err)
		}
	}
	// The first read comes from the server, the second is the first hit.
	if n := codec.decodes.Load(); n > 2 {
		t.Errorf("%d decodes for 50 hits on one entry; want at most 2 (the read from the server and the first hit)", n)
	}
	raw := rawClient(t, srv.Addr)
	entry := driver.EncodeEntry(driver.Metadata{CreatedAt: time.Now(), Version: driver.ValueVersion}, []byte("v2"))
	if err := raw.Set(ctx, "k", entry, 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "another client's write reaching the region", func() bool {
		v, _ := dogpile.GetOrCreate(ctx, r, "k", creator)
		return v == "v2"
	})
	before := codec.decodes.Load()
	for range 50 {
		if v, err := dogpile.GetOrCreate(ctx, r, "k", creator); err != nil || v != "v2" {
			t.Fatalf("GetOrCreate = %q, %v", v, err)
		}
	}
	if n := codec.decodes.Load() - before; n > 1 {
		t.Errorf("%d decodes for 50 hits on the new entry; want at most 1", n)
	}
}

// countingCodec stores strings as they are and counts its decodes.
type countingCodec struct{ decodes atomic.Int64 }

func (c *countingCodec) Marshal(v any) ([]byte, error) { return []byte(v.(string)), nil }

func (c *countingCodec) Unmarshal(data []byte, v any) error {
	c.decodes.Add(1)
	switch p := v.(type) {
	case *string:
		*p = string(data)
	case *any:
		*p = string(data)
	default:
		return fmt.Errorf("countingCodec: cannot decode into %T", v)
	}
	return nil
}

// wantPlainReads checks that b has no near cache, logged why once to l
// (with a reason containing reason), and reads another client's writes
// at once.
func wantPlainReads(t *testing.T, b *redis.Backend, l *logCounter, raw goredis.Cmdable, reason string) {
	t.Helper()
	ctx := context.Background()
	for i := range 20 {
		want := "w" + strconv.Itoa(i)
		if err := raw.Set(ctx, "plain", want, 0).Err(); err != nil {
			t.Fatal(err)
		}
		v, m, _, err := b.GetBytesMemo(ctx, "plain")
		if err != nil || string(v) != want || m != nil {
			t.Fatalf("read after a write = %q, memo %p, %v; want %s from the server", v, m, err, want)
		}
	}
	if b.NearCache() != nil {
		t.Error("NearCache() is not nil")
	}
	if logs := l.offLogs(); len(logs) != 1 || !strings.Contains(logs[0], reason) {
		t.Errorf("logged %q; want one line saying %q", logs, reason)
	}
}

// TestNearCacheFallbacks: clients that cannot keep a near cache coherent
// (a cluster, a Sentinel failover client, RESP2, database 1, a server that
// refuses CLIENT TRACKING, one that speaks RESP2 only) read the server,
// and the backend says so once.
func TestNearCacheFallbacks(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()

	newOn := func(t *testing.T, client goredis.UniversalClient, nc *redis.NearCache) (*redis.Backend, *logCounter) {
		t.Helper()
		l := &logCounter{}
		b, err := redis.New(client, redis.Options{NearCache: nc, Logger: slog.New(l)})
		if err != nil {
			t.Fatal(err)
		}
		return b, l
	}
	nearOpts := func(addr string, nc *redis.NearCache) *goredis.Options {
		return &goredis.Options{Addr: addr, ClientSideCache: nc}
	}

	t.Run("resp2", func(t *testing.T) {
		t.Parallel()
		nc, _ := redis.NewNearCache(redis.NearCacheOptions{})
		o := nearOpts(srv.Addr, nc)
		o.Protocol = 2
		c := goredis.NewClient(o)
		t.Cleanup(func() { _ = c.Close() })
		b, l := newOn(t, c, nc)
		wantPlainReads(t, b, l, raw, "RESP2")
	})
	t.Run("db1", func(t *testing.T) {
		t.Parallel()
		nc, _ := redis.NewNearCache(redis.NearCacheOptions{})
		o := nearOpts(srv.Addr, nc)
		o.DB = 1
		c := goredis.NewClient(o)
		t.Cleanup(func() { _ = c.Close() })
		b, l := newOn(t, c, nc)
		raw1 := goredis.NewClient(&goredis.Options{Addr: srv.Addr, DB: 1})
		t.Cleanup(func() { _ = raw1.Close() })
		wantPlainReads(t, b, l, raw1, "database 1")
	})
	t.Run("no_tracking", func(t *testing.T) {
		t.Parallel()
		// A user the server does not let run CLIENT TRACKING.
		if err := raw.Do(ctx, "acl", "setuser", "notrack", "on", ">pw", "~*", "&*", "+@all", "-client|tracking").Err(); err != nil {
			t.Fatal(err)
		}
		nc, _ := redis.NewNearCache(redis.NearCacheOptions{})
		o := nearOpts(srv.Addr, nc)
		o.Username, o.Password = "notrack", "pw"
		c := goredis.NewClient(o)
		t.Cleanup(func() { _ = c.Close() })
		b, l := newOn(t, c, nc)
		wantPlainReads(t, b, l, raw, "CLIENT TRACKING")
		if n := nc.Len(); n != 0 {
			t.Errorf("the near cache holds %d entries", n)
		}
	})
	t.Run("resp2_server", func(t *testing.T) {
		t.Parallel()
		old := testserver.StartRedisWith(t, "--rename-command", "HELLO", "")
		nc, _ := redis.NewNearCache(redis.NearCacheOptions{})
		c := goredis.NewClient(nearOpts(old.Addr, nc))
		t.Cleanup(func() { _ = c.Close() })
		b, l := newOn(t, c, nc)
		wantPlainReads(t, b, l, rawClient(t, old.Addr), "RESP3")
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		cl := testserver.StartRedisCluster(t, 3)
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
		t.Cleanup(func() { _ = c.Close() })
		nc, _ := redis.NewNearCache(redis.NearCacheOptions{})
		b, l := newOn(t, c, nc)
		raw := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
		t.Cleanup(func() { _ = raw.Close() })
		wantPlainReads(t, b, l, raw, "Cluster")
	})
	t.Run("sentinel", func(t *testing.T) {
		t.Parallel()
		s := testserver.StartRedisSentinel(t)
		c := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: s.ServiceName, SentinelAddrs: []string{s.SentinelAddr}})
		t.Cleanup(func() { _ = c.Close() })
		nc, _ := redis.NewNearCache(redis.NearCacheOptions{})
		b, l := newOn(t, c, nc)
		wantPlainReads(t, b, l, rawClient(t, s.MasterAddr), "Sentinel")
	})
}

// TestNearCacheArgumentFallbacks: the registered names fall back to plain
// reads, logged once to slog.Default, where their clients cannot track
// keys. Not parallel: it replaces the default logger.
func TestNearCacheArgumentFallbacks(t *testing.T) {
	l := &logCounter{}
	old := slog.Default()
	slog.SetDefault(slog.New(l))
	t.Cleanup(func() { slog.SetDefault(old) })

	srv := testserver.StartRedis(t)
	cl := testserver.StartRedisCluster(t, 3)
	s := testserver.StartRedisSentinel(t)
	base := hostPort(t, srv.Addr)
	cases := []struct {
		name, backend string
		args          driver.Arguments
		reason        string
	}{
		{"cluster", redis.ClusterName, driver.Arguments{"startup_nodes": cl.Addrs[0], "near_cache": true}, "Cluster"},
		{"sentinel", redis.SentinelName, driver.Arguments{"sentinels": s.SentinelAddr, "service_name": s.ServiceName, "near_cache": true}, "Sentinel"},
		{"db", redis.Name, with(base, "db", 2, "near_cache", true), "database 2"},
		{"url_db", redis.Name, driver.Arguments{"url": "redis://" + srv.Addr + "/3", "near_cache": true}, "database 3"},
		{"protocol", redis.Name, with(base, "connection_kwargs", map[string]any{"protocol": 2}, "near_cache", true), "RESP2"},
		{"url_protocol", redis.Name, driver.Arguments{"url": "redis://" + srv.Addr + "/0?protocol=2", "near_cache": true}, "RESP2"},
	}
	for _, c := range cases {
		l.mu.Lock()
		l.msgs = nil
		l.mu.Unlock()
		b := openBackend(t, c.backend, c.args)
		if b.NearCache() != nil {
			t.Errorf("%s: NearCache() is not nil", c.name)
		}
		ctx := context.Background()
		for range 3 {
			if _, _, err := b.GetBytes(ctx, "k"); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if logs := l.offLogs(); len(logs) != 1 || !strings.Contains(logs[0], c.reason) {
			t.Errorf("%s: logged %q; want one line saying %q", c.name, logs, c.reason)
		}
	}

	// On where it can be: no line.
	l.mu.Lock()
	l.msgs = nil
	l.mu.Unlock()
	b := openBackend(t, redis.Name, with(base, "near_cache", true, "near_cache_max_entries", 3, "near_cache_max_bytes", 1<<20, "near_cache_ttl", "1.5"))
	if b.NearCache() == nil {
		t.Fatal("near_cache true on a standalone server: no near cache")
	}
	ctx := context.Background()
	for i := range 6 {
		if _, _, err := b.GetBytes(ctx, "k"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.NearCache().Len(); n != 3 {
		t.Errorf("Len = %d; want near_cache_max_entries 3", n)
	}
	if logs := l.offLogs(); len(logs) != 0 {
		t.Errorf("logged %q with the near cache on", logs)
	}
}

// TestNearCacheInvalid: settings New and the arguments cannot take are
// errors wrapping ErrInvalidArgument that name them.
func TestNearCacheInvalid(t *testing.T) {
	t.Parallel()
	for _, o := range []struct {
		opts  redis.NearCacheOptions
		field string
	}{
		{redis.NearCacheOptions{MaxEntries: -1}, "MaxEntries"},
		{redis.NearCacheOptions{MaxBytes: -5}, "MaxBytes"},
		{redis.NearCacheOptions{TTL: -time.Second}, "TTL"},
		{redis.NearCacheOptions{TTL: time.Microsecond}, "TTL"},
	} {
		_, err := redis.NewNearCache(o.opts)
		if !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), "NearCacheOptions."+o.field) || !strings.HasPrefix(err.Error(), "redis: ") {
			t.Errorf("NewNearCache(%+v) = %v; want an invalid argument naming %s", o.opts, err, o.field)
		}
	}

	// A near cache the client was not built with.
	nc, _ := redis.NewNearCache(redis.NearCacheOptions{})
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	if _, err := redis.New(c, redis.Options{NearCache: nc}); !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), "ClientSideCache") {
		t.Errorf("New with a near cache the client does not have = %v; want an invalid argument", err)
	}
	other, _ := redis.NewNearCache(redis.NearCacheOptions{})
	c2 := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", ClientSideCache: other})
	t.Cleanup(func() { _ = c2.Close() })
	if _, err := redis.New(c2, redis.Options{NearCache: nc}); !errors.Is(err, driver.ErrInvalidArgument) {
		t.Errorf("New with another near cache than the client's = %v; want an invalid argument", err)
	}
	for _, d := range []time.Duration{-time.Second, time.Microsecond} {
		if _, err := redis.New(c, redis.Options{CallTimeout: d}); !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), "CallTimeout") {
			t.Errorf("New with CallTimeout %v = %v; want an invalid argument naming it", d, err)
		}
	}

	base := driver.Arguments{"host": "127.0.0.1", "port": 1}
	for _, a := range []struct {
		name string
		v    any
	}{
		{"near_cache_max_entries", 0}, {"near_cache_max_entries", -1},
		{"near_cache_max_bytes", 0}, {"near_cache_ttl", 0}, {"near_cache_ttl", "-1"},
		{"near_cache", "maybe"},
	} {
		_, err := driver.Open(redis.Name, with(base, a.name, a.v, "near_cache", true))
		if a.name == "near_cache" {
			_, err = driver.Open(redis.Name, with(base, a.name, a.v))
		}
		if !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), `"`+a.name+`"`) {
			t.Errorf("%s = %v: %v; want an invalid argument naming it", a.name, a.v, err)
		}
	}
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() { _ = ring.Close() })
	if _, err := driver.Open(redis.Name, driver.Arguments{"client": ring, "near_cache": true}); !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), `"near_cache"`) {
		t.Errorf("near_cache with the client argument = %v; want an invalid argument", err)
	}
}

// percentile returns the p-th percentile (0-100) of d, sorted in place.
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := (len(d)*p + 99) / 100
	return d[min(max(i-1, 0), len(d)-1)]
}
