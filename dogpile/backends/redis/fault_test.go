package redis_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// failFast bounds how long an operation on a server that is away may take:
// well under the 10 s that would feel like a hang.
const failFast = 5 * time.Second

// checkFails runs op and checks that it fails within failFast with a
// region's error that names the backend once and says "dogpile:" once.
func checkFails(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // only a safety net
	defer cancel()
	start := time.Now()
	err := op(ctx)
	took := time.Since(start)
	var de *dogpile.Error
	switch {
	case err == nil:
		t.Errorf("%s succeeded with the server down", what)
	case !errors.As(err, &de):
		t.Errorf("%s: %v (%T); want a *dogpile.Error", what, err, err)
	case !strings.Contains(err.Error(), ": backend "+redis.Name+": ") || strings.Count(err.Error(), redis.Name) != 1 ||
		strings.Count(err.Error(), "dogpile:") != 1 || strings.Contains(err.Error(), "dogpile/redis"):
		t.Errorf("%s: %v; want an error from the backend, named once", what, err)
	case took > failFast:
		t.Errorf("%s took %v to fail; want under %v", what, took, failFast)
	default:
		t.Logf("%s failed after %v: %v", what, took, err)
	}
}

// waitGoroutines waits until at most n goroutines run.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines remain; want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServerDown stops the server under regions in use: every operation
// fails with a wrapped error within the timeouts, a fail-open region
// serves the creator's values, and both work again once the server is
// back, without being rebuilt. Not parallel: it counts goroutines.
func TestServerDown(t *testing.T) {
	srv := testserver.StartRedis(t)
	before := runtime.NumGoroutine()
	args := with(hostPort(t, srv.Addr), "socket_timeout", 1, "socket_connect_timeout", 1, "distributed_lock", true)
	strict := dogpile.NewRegion()
	open := dogpile.NewRegion(dogpile.WithFailOpen(), dogpile.WithLogger(discard))
	for _, r := range []*dogpile.Region{strict, open} {
		if err := r.Configure(redis.Name, dogpile.Config{ExpirationTime: time.Minute, Arguments: args}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if err := strict.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if v, err := dogpile.GetOrCreate(ctx, open, "k", func(context.Context) (string, error) { return "unused", nil }); err != nil || v != "v" {
		t.Fatalf("GetOrCreate before the stop = %v, %v", v, err)
	}

	srv.Stop()
	creator := func(context.Context) (string, error) { return "fallback", nil }
	checkFails(t, "Get", func(ctx context.Context) error { _, _, err := dogpile.Get[string](ctx, strict, "k"); return err })
	checkFails(t, "GetOrCreate", func(ctx context.Context) error { _, err := dogpile.GetOrCreate(ctx, strict, "k", creator); return err })
	checkFails(t, "GetOrCreate of a new key", func(ctx context.Context) error {
		_, err := dogpile.GetOrCreate(ctx, strict, "new", creator)
		return err
	})
	checkFails(t, "Set", func(ctx context.Context) error { return strict.Set(ctx, "k", "v2") })
	checkFails(t, "GetMulti", func(ctx context.Context) error {
		_, err := dogpile.GetMulti[string](ctx, strict, []string{"a", "b"})
		return err
	})
	checkFails(t, "SetMulti", func(ctx context.Context) error { return strict.SetMulti(ctx, map[string]any{"a": 1, "b": 2}) })
	checkFails(t, "DeleteMulti", func(ctx context.Context) error { return strict.DeleteMulti(ctx, []string{"a", "b"}) })
	checkFails(t, "KeyIsLocked", func(ctx context.Context) error { _, err := strict.KeyIsLocked(ctx, "k"); return err })

	for _, key := range []string{"k", "new"} {
		start := time.Now()
		v, err := dogpile.GetOrCreate(ctx, open, key, creator)
		if err != nil || v != "fallback" || time.Since(start) > failFast {
			t.Errorf("fail-open GetOrCreate(%s) with the server down = %v, %v after %v; want the creator's value at once", key, v, err, time.Since(start))
		}
	}

	srv.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := strict.Set(ctx, "k", "back")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the region does not work again after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, ok, err := dogpile.Get[string](ctx, strict, "k"); err != nil || !ok || v != "back" {
		t.Errorf("Get after the restart = %v, %v, %v", v, ok, err)
	}
	if v, err := dogpile.GetOrCreate(ctx, open, "new", func(context.Context) (string, error) { return "stored", nil }); err != nil || v != "stored" {
		t.Errorf("fail-open GetOrCreate after the restart = %v, %v", v, err)
	}
	if v, ok, err := dogpile.Get[string](ctx, strict, "new"); err != nil || !ok || v != "stored" {
		t.Errorf("the value created after the restart: %v, %v, %v; want it stored", v, ok, err)
	}

	for _, r := range []*dogpile.Region{strict, open} {
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	waitGoroutines(t, before+2)
}

// TestServerHung: a server that accepts connections and never answers
// fails operations within the socket timeouts instead of hanging.
func TestServerHung(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }() // read, never answer
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})

	r := region(t, time.Minute, redis.Name, with(hostPort(t, ln.Addr().String()), "socket_timeout", 0.3, "distributed_lock", true))
	checkFails(t, "Get", func(ctx context.Context) error { _, _, err := dogpile.Get[int](ctx, r, "k"); return err })
	checkFails(t, "GetOrCreate", func(ctx context.Context) error {
		_, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 1, nil })
		return err
	})
	checkFails(t, "Set", func(ctx context.Context) error { return r.Set(ctx, "k", 1) })

	// The caller's deadline bounds a command too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = dogpile.Get[int](ctx, r, "k")
	if err == nil || time.Since(start) > time.Second {
		t.Errorf("Get under a 100ms deadline = %v after %v; want an error promptly", err, time.Since(start))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("Get under a 100ms deadline: %v (not a context error)", err)
	}
}
