package memcached

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// TestFaults stops the server under a running region: every operation
// fails within the socket timeout with a wrapped error, fail-open regions
// keep serving, nothing leaks, and a restarted server is used again. It
// is not parallel: it counts the process's goroutines.
func TestFaults(t *testing.T) {
	m := testserver.StartMemcached(t)
	ctx := context.Background()
	b := open(t, driver.Arguments{"url": m.Addr, "socket_timeout": 0.5, "distributed_lock": true, "lock_timeout": 2})
	quiet := dogpile.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	strict := region(t, b, time.Minute, quiet)
	failOpen := region(t, b, time.Minute, quiet, dogpile.WithFailOpen())
	p := keyPrefix(t)
	creator := func(v string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, nil }
	}

	// Fill the connection pool with several connections.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := strict.Set(ctx, p+"warm"+string(rune('a'+i)), "v"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if v, err := dogpile.GetOrCreate(ctx, strict, p+"a", creator("before")); err != nil || v != "before" {
		t.Fatalf("GetOrCreate = %q, %v", v, err)
	}
	baseline := runtime.NumGoroutine()

	m.Stop()
	// The region's errors name the backend once, before the backend's
	// own; the backend's name the operation, and wrap the network error.
	const inRegion = "backend *memcached.Backend: "
	ops := []struct {
		name, want string
		run        func() error
	}{
		{"Get", inRegion + "get ", func() error { _, _, err := dogpile.Get[string](ctx, strict, p+"a"); return err }},
		{"GetMulti", inRegion + "get_multi ", func() error { _, err := dogpile.GetMulti[string](ctx, strict, []string{p + "a", p + "b"}); return err }},
		{"Set", inRegion + "set ", func() error { return strict.Set(ctx, p+"a", "v") }},
		// Multi-key writes report every key that failed, each with its error.
		{"SetMulti", inRegion + "set_multi: 2 of 2 keys failed: set ", func() error { return strict.SetMulti(ctx, map[string]any{p + "a": 1, p + "b": 2}) }},
		{"Delete", inRegion + "delete ", func() error { return strict.Delete(ctx, p+"a") }},
		{"DeleteMulti", inRegion + "delete_multi: 2 of 2 keys failed: delete ", func() error { return strict.DeleteMulti(ctx, []string{p + "a", p + "b"}) }},
		{"GetOrCreate", inRegion + "get ", func() error { _, err := dogpile.GetOrCreate(ctx, strict, p+"a", creator("x")); return err }},
		{"GetOrCreateMulti", inRegion + "get_multi ", func() error {
			_, err := dogpile.GetOrCreateMulti(ctx, strict, []string{p + "a", p + "b"}, func(_ context.Context, keys []string) (map[string]string, error) {
				out := map[string]string{}
				for _, k := range keys {
					out[k] = ""
				}
				return out, nil
			})
			return err
		}},
		{"KeyIsLocked", inRegion + "check lock for ", func() error { _, err := strict.KeyIsLocked(ctx, p+"a"); return err }},
		{"Acquire", "acquire lock for ", func() error { _, err := b.Mutex(p+"a").Acquire(ctx, true); return err }},
		{"Locked", "check lock for ", func() error { _, err := b.Mutex(p + "a").Locked(ctx); return err }},
	}
	for _, op := range ops {
		start := time.Now()
		err := op.run()
		var ne net.Error
		var de *dogpile.Error
		if err == nil || !strings.Contains(err.Error(), op.want) || !errors.As(err, &ne) ||
			errors.As(err, &de) != strings.HasPrefix(op.want, inRegion) {
			t.Errorf("%s with the server down: %v; want an error saying %q, wrapping the network error", op.name, err, op.want)
		}
		within(t, op.name+" with the server down", time.Since(start), 2*time.Second)
	}

	// Fail-open: a miss, and the creator's value served.
	if v, err := dogpile.GetOrCreate(ctx, failOpen, p+"a", creator("served")); err != nil || v != "served" {
		t.Errorf("fail-open GetOrCreate with the server down = %q, %v; want the creator's value", v, err)
	}
	if _, ok, err := dogpile.Get[string](ctx, failOpen, p+"a"); ok || err != nil {
		t.Errorf("fail-open Get with the server down = %v, %v; want a miss", ok, err)
	}
	if err := failOpen.Set(ctx, p+"a", "v"); err != nil {
		t.Errorf("fail-open Set with the server down: %v", err)
	}

	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > baseline+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline+2 {
		t.Errorf("%d goroutines after the failures; %d before", n, baseline)
	}

	m.Restart(t)
	if v, err := dogpile.GetOrCreate(ctx, strict, p+"a", creator("after")); err != nil || v != "after" {
		t.Errorf("GetOrCreate after the restart = %q, %v; want a new value", v, err)
	}
	if v, ok, err := dogpile.Get[string](ctx, strict, p+"a"); !ok || err != nil || v != "after" {
		t.Errorf("Get after the restart = %q, %v, %v", v, ok, err)
	}
	mu := b.Mutex(p + "a")
	if ok, err := mu.Acquire(ctx, true); !ok || err != nil {
		t.Errorf("Acquire after the restart = %v, %v", ok, err)
	} else if err := mu.Release(ctx); err != nil {
		t.Errorf("Release after the restart: %v", err)
	}

	// A restart while the pool holds connections to the old process: the
	// first operation meets a closed connection and retries on a new one.
	for i := range 8 {
		wg.Go(func() { _ = strict.Set(ctx, p+"warm"+string(rune('a'+i)), "v") })
	}
	wg.Wait()
	m.Restart(t)
	if _, ok, err := dogpile.Get[string](ctx, strict, p+"a"); ok || err != nil {
		t.Errorf("Get after a restart with pooled connections = %v, %v; want a miss without error", ok, err)
	}
	if err := strict.Set(ctx, p+"a", "v"); err != nil {
		t.Errorf("Set after a restart with pooled connections: %v", err)
	}
	// The same for the pipelined multi-key writes.
	for i := range 8 {
		wg.Go(func() { _ = strict.SetMulti(ctx, map[string]any{p + "warm" + string(rune('a'+i)): "v", p + "b": "w"}) })
	}
	wg.Wait()
	m.Restart(t)
	if err := strict.SetMulti(ctx, map[string]any{p + "a": "v", p + "b": "w"}); err != nil {
		t.Errorf("SetMulti after a restart with pooled connections: %v", err)
	}
	if err := strict.DeleteMulti(ctx, []string{p + "a", p + "b"}); err != nil {
		t.Errorf("DeleteMulti after a restart with pooled connections: %v", err)
	}
}

// TestUnresponsiveServer: a server that accepts connections and never
// answers costs the socket timeout, not a hang.
func TestUnresponsiveServer(t *testing.T) {
	t.Parallel()
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
	b := open(t, driver.Arguments{"url": ln.Addr().String(), "socket_timeout": 0.2, "distributed_lock": true})
	ctx := context.Background()
	prefix := map[string]string{
		"GetBytes": `get "k": `, "GetBytesMulti": `get_multi of 2 keys ("k", ...): `, "SetBytes": `set "k": `,
		"Delete": `delete "k": `, "Acquire": `acquire lock for "k": `,
		"SetBytesMulti": `set_multi: 2 of 2 keys failed: set "k": `, "DeleteMulti": `delete_multi: 2 of 2 keys failed: delete "k": `,
	}
	for name, op := range map[string]func() error{
		"GetBytes":      func() error { _, _, err := b.GetBytes(ctx, "k"); return err },
		"GetBytesMulti": func() error { _, err := b.GetBytesMulti(ctx, []string{"k", "l"}); return err },
		"SetBytes":      func() error { return b.SetBytes(ctx, "k", []byte("v")) },
		"SetBytesMulti": func() error {
			return b.SetBytesMulti(ctx, []driver.BytesItem{{Key: "k", Value: []byte("v")}, {Key: "l", Value: []byte("w")}})
		},
		"Delete":      func() error { return b.Delete(ctx, "k") },
		"DeleteMulti": func() error { return b.DeleteMulti(ctx, []string{"k", "l"}) },
		"Acquire":     func() error { _, err := b.Mutex("k").Acquire(ctx, true); return err },
	} {
		start := time.Now()
		err := op()
		var (
			ne net.Error
			ce *memcache.ConnectTimeoutError // a loaded machine may not even connect in time
		)
		if err == nil || !strings.HasPrefix(err.Error(), prefix[name]) || !asNetTimeout(err, &ne) && !errors.As(err, &ce) {
			t.Errorf("%s against a silent server: %v; want a wrapped timeout", name, err)
		}
		within(t, name+" against a silent server", time.Since(start), time.Second)
	}
}
