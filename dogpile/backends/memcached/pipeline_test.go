package memcached

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// TestPipelined runs the pipelined writes against a real memcached.
func TestPipelined(t *testing.T) {
	t.Parallel()
	m := testserver.StartMemcached(t)
	ctx := context.Background()
	raw := rawClient(t, m.Addr)

	t.Run("OneRoundTrip", func(t *testing.T) {
		// Every command is written before the first reply is read: one
		// round trip for 100 keys, and one per 1024 commands beyond.
		for _, n := range []int{1, 100, maxBatch, maxBatch + 1, 3000} {
			rec := &ioRecorder{}
			b := openTraced(t, m.Addr, rec)
			p := keyPrefix(t) + strconv.Itoa(n) + ":"
			items, keys := testItems(p, n, 100)
			if err := b.SetBytesMulti(ctx, items); err != nil {
				t.Fatal(err)
			}
			want := (n + maxBatch - 1) / maxBatch
			if got := rec.roundTrips(); got != want {
				t.Errorf("SetBytesMulti of %d items: %d round trips (%s); want %d", n, got, rec.pattern(), want)
			}
			got, err := b.GetBytesMulti(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			for i := range keys {
				if string(got[i]) != string(items[i].Value) {
					t.Fatalf("entry %d of %d: %q; want %q", i, n, got[i], items[i].Value)
				}
			}
			rec.reset()
			if err := b.DeleteMulti(ctx, append(keys, p+"never-set")); err != nil {
				t.Fatal(err)
			}
			if got := rec.roundTrips(); got != (n+1+maxBatch-1)/maxBatch {
				t.Errorf("DeleteMulti of %d keys: %d round trips (%s)", n+1, got, rec.pattern())
			}
			if left, err := raw.GetMulti(keys[:min(n, 100)]); err != nil || len(left) != 0 {
				t.Errorf("after DeleteMulti: %d keys left, %v", len(left), err)
			}
		}
	})

	t.Run("BatchBytes", func(t *testing.T) {
		// Batches hold at most 1 MiB of values, or a single larger one:
		// five of 400 KB are three round trips, each with its own timeout.
		rec := &ioRecorder{}
		b := openTraced(t, m.Addr, rec)
		items, keys := testItems(keyPrefix(t), 5, 400<<10)
		if err := b.SetBytesMulti(ctx, items); err != nil {
			t.Fatal(err)
		}
		if got := rec.roundTrips(); got != 3 {
			t.Errorf("SetBytesMulti of 5 values of 400 KB: %d round trips (%s); want 3", got, rec.pattern())
		}
		if got, err := raw.GetMulti(keys); err != nil || len(got) != 5 {
			t.Errorf("%d of 5 stored, %v", len(got), err)
		}
		for _, tc := range []struct {
			sizes []int
			ends  []int
		}{
			{[]int{2 << 20}, []int{1}},
			{[]int{2 << 20, 1, 1}, []int{1, 3}},
			{[]int{1, 1 << 20, 1}, []int{1, 2, 3}},
			{[]int{1 << 20, 1 << 20}, []int{1, 2}},
			{[]int{1 << 19, 1 << 19, 1}, []int{2, 3}},
		} {
			cmds := make([]command, len(tc.sizes))
			for i, n := range tc.sizes {
				cmds[i].value = make([]byte, n)
			}
			var ends []int
			for start := 0; start < len(cmds); start = ends[len(ends)-1] {
				ends = append(ends, batchEnd(cmds, start))
			}
			if fmt.Sprint(ends) != fmt.Sprint(tc.ends) {
				t.Errorf("batches of values %v end at %v; want %v", tc.sizes, ends, tc.ends)
			}
		}
	})

	t.Run("PartialFailures", func(t *testing.T) {
		// Values over the item size fail alone; the others are stored.
		b := open(t, driver.Arguments{"url": m.Addr})
		p := keyPrefix(t)
		big := make([]byte, 2<<20)
		items := []driver.BytesItem{
			{Key: p + "small0", Value: []byte("a")},
			{Key: p + "big1", Value: big},
			{Key: p + "small2", Value: []byte("b")},
			{Key: p + "big3", Value: big[:1<<20+1]},
			{Key: p + "small4", Value: []byte("c")},
		}
		err := b.SetBytesMulti(ctx, items)
		var we *WriteError
		if !errors.As(err, &we) || we.Op != "set_multi" || we.Total != 5 ||
			strings.Join(we.Keys, " ") != p+"big1 "+p+"big3" || !errors.Is(err, driver.ErrValueTooLarge) {
			t.Fatalf("SetBytesMulti with two values over 1 MiB: %v; want a *WriteError for those two, too large", err)
		}
		for i, e := range we.Errs {
			want := fmt.Sprintf(`set %q: value too large for the backend: %d bytes; %s replied "SERVER_ERROR object too large for cache"`,
				we.Keys[i], len(items[2*i+1].Value), m.Addr)
			if !errors.Is(e, driver.ErrValueTooLarge) || e.Error() != want {
				t.Errorf("error of %s:\n got %v\nwant %s", we.Keys[i], e, want)
			}
		}
		if want := fmt.Sprintf("set_multi: 2 of 5 keys failed: %v; %v", we.Errs[0], we.Errs[1]); err.Error() != want {
			t.Errorf("WriteError text:\n got %s\nwant %s", err, want)
		}
		for _, k := range []string{"small0", "small2", "small4"} {
			if _, err := raw.Get(p + k); err != nil {
				t.Errorf("%s was not stored: %v", k, err)
			}
		}
		// The connection stayed in step: it is pooled and used again.
		if n := b.pipe.idleConns(m.Addr); n != 1 {
			t.Errorf("%d idle connections after the refusals; want the one used", n)
		}
		if err := b.SetBytes(ctx, p+"after", []byte("x")); err != nil {
			t.Errorf("SetBytes on the same connection: %v", err)
		}
		if err := b.SetBytes(ctx, p+"big", big); !errors.Is(err, driver.ErrValueTooLarge) ||
			!strings.HasPrefix(err.Error(), fmt.Sprintf("set %q: value too large", p+"big")) {
			t.Errorf("SetBytes of 2 MiB: %v; want an error wrapping driver.ErrValueTooLarge", err)
		}
	})

	t.Run("ServerClosesMidPipeline", func(t *testing.T) {
		// A fresh connection the server drops after 4 replies: those 4
		// keys are written, the other 6 are reported with the error.
		proxy := startCutProxy(t, m.Addr, func(conn int) (int, string) {
			if conn == 1 {
				return 4, ""
			}
			return -1, ""
		})
		b := open(t, driver.Arguments{"url": proxy.addr()})
		p := keyPrefix(t)
		items, keys := testItems(p, 10, 10)
		err := b.SetBytesMulti(ctx, items)
		var we *WriteError
		if !errors.As(err, &we) || strings.Join(we.Keys, " ") != strings.Join(keys[4:], " ") {
			t.Fatalf("SetBytesMulti cut after 4 replies: %v; want the last 6 keys reported", err)
		}
		for i, e := range we.Errs {
			if !closedByServer(e) || !strings.HasPrefix(e.Error(), fmt.Sprintf("set %q: ", we.Keys[i])) {
				t.Errorf("error of %s: %v; want the closed connection's", we.Keys[i], e)
			}
		}
		for _, k := range keys[:4] {
			if _, err := raw.Get(k); err != nil {
				t.Errorf("%s, answered before the cut, is not stored: %v", k, err)
			}
		}
		if proxy.count() != 1 {
			t.Errorf("%d connections; want 1: a fresh connection that fails is not retried", proxy.count())
		}
	})

	t.Run("PooledConnectionCut", func(t *testing.T) {
		// A pooled connection the server drops mid-pipeline: the idle
		// connections are dropped, and the unanswered commands sent again
		// once on a new connection.
		proxy := startCutProxy(t, m.Addr, func(conn int) (int, string) {
			if conn == 1 {
				return 2 + 4, "" // the warm-up's reply and VERSION, then 4 replies
			}
			return -1, ""
		})
		b := open(t, driver.Arguments{"url": proxy.addr()})
		p := keyPrefix(t)
		if err := b.SetBytes(ctx, p+"warm", []byte("v")); err != nil {
			t.Fatal(err)
		}
		items, keys := testItems(p, 10, 10)
		if err := b.SetBytesMulti(ctx, items); err != nil {
			t.Fatalf("SetBytesMulti on a pooled connection cut after 4 replies: %v; want the rest sent again", err)
		}
		if got, err := raw.GetMulti(keys); err != nil || len(got) != 10 {
			t.Errorf("%d of 10 keys stored, %v", len(got), err)
		}
		if proxy.count() != 2 {
			t.Errorf("%d connections; want 2", proxy.count())
		}
	})

	t.Run("OutOfStep", func(t *testing.T) {
		// A reply too many: no reply of the batch is trusted, and the
		// connection is dropped; the next call works on a new one.
		proxy := startCutProxy(t, m.Addr, func(conn int) (int, string) {
			if conn == 1 {
				return -1, "STORED\r\n"
			}
			return -1, ""
		})
		b := open(t, driver.Arguments{"url": proxy.addr()})
		p := keyPrefix(t)
		items, keys := testItems(p, 3, 10)
		err := b.SetBytesMulti(ctx, items)
		var we *WriteError
		if !errors.As(err, &we) || len(we.Keys) != 3 || !errors.Is(err, errOutOfStep) {
			t.Fatalf("SetBytesMulti with an extra reply: %v; want all 3 keys reported out of step", err)
		}
		if n := b.pipe.idleConns(proxy.addr()); n != 0 {
			t.Errorf("%d idle connections; want the one out of step dropped", n)
		}
		if err := b.DeleteMulti(ctx, keys); err != nil {
			t.Errorf("DeleteMulti on a new connection: %v", err)
		}
	})

	t.Run("ContextCancel", func(t *testing.T) {
		// A cancelled context interrupts an exchange the server does not
		// answer; the keys report the context's error.
		stalled := startSilentServer(t)
		b := open(t, driver.Arguments{"url": stalled, "socket_timeout": 30})
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		items, _ := testItems(keyPrefix(t), 3, 10)
		err := b.SetBytesMulti(cctx, items)
		var we *WriteError
		if !errors.As(err, &we) || len(we.Keys) != 3 || !errors.Is(err, context.Canceled) {
			t.Errorf("SetBytesMulti cancelled: %v; want every key reporting context.Canceled", err)
		}
		within(t, "SetBytesMulti cancelled after 200 ms", time.Since(start), 2*time.Second)
		dctx, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel2()
		if err := b.DeleteMulti(dctx, []string{"a", "b"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("DeleteMulti past its context's deadline: %v; want context.DeadlineExceeded", err)
		}
	})

	t.Run("IdleBound", func(t *testing.T) {
		b := open(t, driver.Arguments{"url": m.Addr, "max_idle_conns": 2})
		p := keyPrefix(t)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				items, _ := testItems(p+strconv.Itoa(g)+":", 20, 10)
				for range 20 {
					if err := b.SetBytesMulti(ctx, items); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if n := b.pipe.idleConns(m.Addr); n < 1 || n > 2 {
			t.Errorf("%d idle connections after 8 concurrent callers; want 1 to max_idle_conns (2)", n)
		}
		if err := b.Close(); err != nil || b.pipe.idleConns(m.Addr) != 0 {
			t.Errorf("Close: %v, %d idle connections left", err, b.pipe.idleConns(m.Addr))
		}
	})

	t.Run("SeveralServers", func(t *testing.T) {
		// Keys go to the server their selection picks, in parallel; one
		// server down fails its keys alone.
		m2 := testserver.StartMemcached(t)
		b := open(t, driver.Arguments{"url": []string{m.Addr, m2.Addr}})
		p := keyPrefix(t)
		items, keys := testItems(p, 40, 10)
		if err := b.SetBytesMulti(ctx, items); err != nil {
			t.Fatal(err)
		}
		on2 := map[string]bool{}
		for _, k := range keys {
			a, err := b.servers.PickServer(k)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rawClient(t, a.String()).Get(k); err != nil {
				t.Errorf("%s is not on %s, the server its selection picks: %v", k, a, err)
			}
			on2[k] = a.String() == m2.Addr
		}
		m2.Stop()
		err := b.SetBytesMulti(ctx, items)
		var we *WriteError
		if !errors.As(err, &we) {
			t.Fatalf("SetBytesMulti with a server down: %v; want a *WriteError", err)
		}
		for _, k := range we.Keys {
			if !on2[k] {
				t.Errorf("%s, on the running server, was reported failed", k)
			}
		}
		n2 := 0
		for _, down := range on2 {
			if down {
				n2++
			}
		}
		if len(we.Keys) != n2 || n2 == 0 {
			t.Errorf("%d keys reported failed; want the %d on the stopped server", len(we.Keys), n2)
		}
	})
}

// TestWriteThroughClient: a backend from New without Options.Selector
// writes through the client, one key after the other, with the same
// per-key errors.
func TestWriteThroughClient(t *testing.T) {
	t.Parallel()
	m := testserver.StartMemcached(t)
	ctx := context.Background()
	c := memcache.New(m.Addr)
	c.Timeout = testTimeout
	b := openClient(t, c, Options{})
	p := keyPrefix(t)
	big := make([]byte, 2<<20)
	items := []driver.BytesItem{{Key: p + "a", Value: []byte("a")}, {Key: p + "big", Value: big}, {Key: p + "c", Value: []byte("c")}}
	err := b.SetBytesMulti(ctx, items)
	var we *WriteError
	if !errors.As(err, &we) || strings.Join(we.Keys, " ") != p+"big" || !errors.Is(err, driver.ErrValueTooLarge) {
		t.Fatalf("SetBytesMulti through the client with a 2 MiB value: %v; want a *WriteError for it alone", err)
	}
	if got, err := b.GetBytesMulti(ctx, []string{p + "a", p + "c"}); err != nil || string(got[0]) != "a" || string(got[1]) != "c" {
		t.Errorf("the other keys: %q, %v", got, err)
	}
	if err := b.SetBytes(ctx, p+"big", big); !errors.Is(err, driver.ErrValueTooLarge) {
		t.Errorf("SetBytes of 2 MiB through the client: %v; want driver.ErrValueTooLarge", err)
	}
	if err := b.DeleteMulti(ctx, []string{p + "a", p + "missing"}); err != nil {
		t.Error(err)
	}
	if b.pipe.idleConns(m.Addr) != 0 {
		t.Error("the backend dialled a connection of its own without Options.Selector")
	}
}

// testItems returns n items under prefix p with values of size bytes.
func testItems(p string, n, size int) ([]driver.BytesItem, []string) {
	items := make([]driver.BytesItem, n)
	keys := make([]string, n)
	for i := range n {
		keys[i] = p + strconv.Itoa(i)
		v := []byte(strconv.Itoa(i) + ":" + strings.Repeat("v", size))
		items[i] = driver.BytesItem{Key: keys[i], Value: v[:size]}
	}
	return items, keys
}

// openTraced is a registered-name backend on addr whose connections log
// their reads and writes in rec.
func openTraced(t *testing.T, addr string, rec *ioRecorder) *Backend {
	b := open(t, driver.Arguments{"url": addr})
	dial := b.Client().DialContext
	b.Client().DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		c, err := dial(ctx, network, a)
		if err != nil {
			return nil, err
		}
		return &tracedConn{Conn: c, rec: rec}, nil
	}
	return b
}

// ioRecorder records the order of a connection's reads and writes.
type ioRecorder struct {
	mu  sync.Mutex
	ops []byte // 'W' and 'R'
}

func (r *ioRecorder) add(op byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.ops); n == 0 || r.ops[n-1] != op {
		r.ops = append(r.ops, op)
	}
}

func (r *ioRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = nil
}

func (r *ioRecorder) pattern() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.ops)
}

// roundTrips counts the writes followed by reads.
func (r *ioRecorder) roundTrips() int { return strings.Count(r.pattern(), "WR") }

type tracedConn struct {
	net.Conn
	rec *ioRecorder
}

func (c *tracedConn) Write(p []byte) (int, error) {
	c.rec.add('W')
	return c.Conn.Write(p)
}

func (c *tracedConn) Read(p []byte) (int, error) {
	c.rec.add('R')
	return c.Conn.Read(p)
}

// cutProxy relays connections to a real server. plan(n) says what to do
// with the n-th connection (from 1): cut it after relaying cutAfter reply
// lines (never when negative), and add inject after its first reply.
type cutProxy struct {
	ln    net.Listener
	conns atomic.Int64
}

func startCutProxy(t *testing.T, upstream string, plan func(conn int) (cutAfter int, inject string)) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			cutAfter, inject := plan(int(p.conns.Add(1)))
			wg.Go(func() { relay(down, upstream, cutAfter, inject) })
		}
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }
func (p *cutProxy) count() int   { return int(p.conns.Load()) }

func relay(down net.Conn, upstream string, cutAfter int, inject string) {
	defer down.Close()
	up, err := net.DialTimeout("tcp", upstream, time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	go func() {
		_, _ = io.Copy(up, down)
		_ = up.Close()
	}()
	r := bufio.NewReader(up)
	for lines := 0; cutAfter < 0 || lines < cutAfter; lines++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if lines == 0 && inject != "" {
			line += inject
		}
		if _, err := io.WriteString(down, line); err != nil {
			return
		}
	}
}

// startSilentServer listens and accepts connections without ever
// answering, until the test ends.
func startSilentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
