package memcached

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// TestStalledServer stops memcached with SIGSTOP: its kernel still
// accepts connections and data, nothing answers. Every backend call must
// then fail within the budget of one socket timeout (connecting
// included), on a pooled connection and on a new one, and a fail-open
// region must serve within that budget for each backend call it makes.
// Once the server continues, calls succeed again.
func TestStalledServer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pausing a server needs Linux")
	}
	t.Parallel()
	const timeout = 500 * time.Millisecond
	budget := timeout + 400*time.Millisecond // scheduling slack; a second timeout would exceed it
	m := testserver.StartMemcached(t)
	ctx := context.Background()
	b := open(t, driver.Arguments{"url": m.Addr, "socket_timeout": timeout, "distributed_lock": true, "lock_timeout": 5})
	quiet := dogpile.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := region(t, b, time.Minute, quiet, dogpile.WithFailOpen())
	p := keyPrefix(t)
	items, keys := testItems(p, 100, 100)

	// Pooled connections of every kind, and a lock to release later.
	if err := b.SetBytesMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetBytesMulti(ctx, keys); err != nil {
		t.Fatal(err)
	}
	held := b.Mutex(p + "held")
	if ok, err := held.Acquire(ctx, false); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}

	ops := []struct {
		name  string
		run   func() error
		fail  bool // the call reports the stall; fail-open region calls do not
		calls int  // backend calls the operation makes, each within the budget
	}{
		{"Get", func() error { _, _, err := b.GetBytes(ctx, p+"0"); return err }, true, 1},
		{"Set", func() error { return b.SetBytes(ctx, p+"0", []byte("v")) }, true, 1},
		{"Delete", func() error { return b.Delete(ctx, p+"0") }, true, 1},
		{"GetMulti", func() error { _, err := b.GetBytesMulti(ctx, keys); return err }, true, 1},
		{"SetMulti", func() error { return b.SetBytesMulti(ctx, items) }, true, 1},
		{"DeleteMulti", func() error { return b.DeleteMulti(ctx, keys) }, true, 1},
		{"Acquire", func() error { _, err := b.Mutex(p+"lock").Acquire(ctx, true); return err }, true, 1},
		{"Locked", func() error { _, err := b.Mutex(p + "lock").Locked(ctx); return err }, true, 1},
		{"region Get", func() error { _, _, err := dogpile.Get[string](ctx, r, p+"r"); return err }, false, 1},
		{"region Set", func() error { return r.Set(ctx, p+"r", "v") }, false, 1},
		{"region GetOrCreate", func() error {
			v, err := dogpile.GetOrCreate(ctx, r, p+"r", func(context.Context) (string, error) { return "made", nil })
			if err == nil && v != "made" {
				err = fmt.Errorf("served %q", v)
			}
			return err
		}, false, 2}, // the read, then the write; no lock after a failed read
		{"region SetMulti", func() error { return r.SetMulti(ctx, map[string]any{p + "r1": 1, p + "r2": 2}) }, false, 1},
	}

	m.Pause(t)
	worst := map[string]time.Duration{}
	check := func(name string, fail bool, calls int, run func() error) {
		t.Helper()
		start := time.Now()
		err := run()
		d := time.Since(start)
		worst[name] = max(worst[name], d)
		var ne net.Error
		var ce *memcache.ConnectTimeoutError
		switch {
		case fail && (err == nil || !asNetTimeout(err, &ne) && !errors.As(err, &ce)):
			t.Errorf("%s against a stalled server: %v; want a timeout", name, err)
		case !fail && err != nil:
			t.Errorf("%s of a fail-open region against a stalled server: %v", name, err)
		}
		if limit := time.Duration(calls)*timeout + budget - timeout; d > limit {
			t.Errorf("%s against a stalled server took %v; want at most %v (%d backend calls of one socket timeout, %v, each)",
				name, d, limit, calls, timeout)
		}
	}
	// Twice: on the pooled connection, then on a new one, since a
	// connection that timed out is dropped.
	for range 2 {
		for _, op := range ops {
			check(op.name, op.fail, op.calls, op.run)
		}
	}
	check("Release", true, 1, func() error { return held.Release(ctx) })

	names := make([]string, 0, len(worst))
	for n := range worst {
		names = append(names, n)
	}
	slices.Sort(names)
	var report strings.Builder
	for _, n := range names {
		fmt.Fprintf(&report, "\n  %-20s %v", n, worst[n].Round(time.Millisecond))
	}
	t.Logf("worst call times against a stalled server (socket timeout %v):%s", timeout, report.String())

	// The server runs what it was sent meanwhile, in its own time: the
	// writes that timed out may still be applied, so new keys are used.
	m.Resume(t)
	items, keys = testItems(p+"after:", 100, 100)
	if err := b.SetBytesMulti(ctx, items); err != nil {
		t.Errorf("SetBytesMulti after the server continued: %v", err)
	}
	if got, ok, err := b.GetBytes(ctx, keys[1]); !ok || err != nil || string(got) != string(items[1].Value) {
		t.Errorf("GetBytes after the server continued = %q, %v, %v", got, ok, err)
	}
	mu := b.Mutex(p + "after")
	if ok, err := mu.Acquire(ctx, true); !ok || err != nil {
		t.Errorf("Acquire after the server continued = %v, %v", ok, err)
	} else if err := mu.Release(ctx); err != nil {
		t.Errorf("Release after the server continued: %v", err)
	}
}

// TestSlowConnect: connecting counts against the socket timeout. A TLS
// server that takes 300 ms to shake hands and then answers nothing costs
// a call one socket timeout of 500 ms in all, not the handshake and a
// timeout after it.
func TestSlowConnect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := writeSelfSigned(t, certFile, keyFile)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				select {
				case <-time.After(300 * time.Millisecond):
				case <-done:
					return
				}
				_ = c.(*tls.Conn).Handshake()
				<-done // then silence
			})
		}
	})
	const timeout = 500 * time.Millisecond
	b := open(t, driver.Arguments{"url": ln.Addr().String(), "socket_timeout": timeout,
		"tls_context": &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	ctx := context.Background()
	for name, op := range map[string]func() error{
		"GetBytes":      func() error { _, _, err := b.GetBytes(ctx, "k"); return err },
		"GetBytesMulti": func() error { _, err := b.GetBytesMulti(ctx, []string{"k", "l"}); return err },
		"SetBytes":      func() error { return b.SetBytes(ctx, "k", []byte("v")) },
		"SetBytesMulti": func() error { return b.SetBytesMulti(ctx, []driver.BytesItem{{Key: "k", Value: []byte("v")}}) },
	} {
		start := time.Now()
		err := op()
		var ne net.Error
		if !asNetTimeout(err, &ne) {
			t.Errorf("%s against a slow, silent server: %v; want a timeout", name, err)
		}
		d := time.Since(start)
		if d < timeout-50*time.Millisecond || d > timeout+250*time.Millisecond {
			t.Errorf("%s took %v; want one socket timeout (%v), the handshake's 300 ms included", name, d, timeout)
		}
	}
}
