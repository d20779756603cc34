package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// stallSlack is how much later than its budget a call on a stalled server
// may end: scheduling, and the race detector on a busy machine.
const stallSlack = 700 * time.Millisecond

// openBackend opens the backend name with args, as a region configured
// by name does, and closes it when the test ends.
func openBackend(t testing.TB, name string, args driver.Arguments) *redis.Backend {
	t.Helper()
	b, err := driver.Open(name, args)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = b.(*redis.Backend).Close() })
	return b.(*redis.Backend)
}

// timed is the outcome of one backend call.
type timed struct {
	op   string
	took time.Duration
	err  error
}

// stalledCalls runs every kind of backend call at once against b, whose
// server is paused, and returns how each ended. held is a lock b holds,
// for Release.
func stalledCalls(b *redis.Backend, held driver.Mutex) []timed {
	ctx := context.Background()
	calls := []struct {
		op string
		f  func() error
	}{
		{"GetBytes", func() error { _, _, err := b.GetBytes(ctx, "stall:absent"); return err }},
		{"GetBytesMulti", func() error { _, err := b.GetBytesMulti(ctx, []string{"stall:a", "stall:b"}); return err }},
		{"GetBytesDirect", func() error { _, err := b.GetBytesDirect(ctx, []string{"stall:k"}); return err }},
		{"SetBytes", func() error { return b.SetBytes(ctx, "stall:k", []byte("v2")) }},
		{"SetBytesMulti", func() error {
			return b.SetBytesMulti(ctx, []driver.BytesItem{{Key: "stall:a", Value: []byte("1")}, {Key: "stall:b", Value: []byte("2")}})
		}},
		{"Delete", func() error { return b.Delete(ctx, "stall:k") }},
		{"DeleteMulti", func() error { return b.DeleteMulti(ctx, []string{"stall:a", "stall:b"}) }},
		{"Acquire", func() error { _, err := b.Mutex("stall:other").Acquire(ctx, false); return err }},
		{"Acquire(wait)", func() error { _, err := b.Mutex("stall:other2").Acquire(ctx, true); return err }},
		{"Release", func() error { return held.Release(ctx) }},
		{"Locked", func() error { _, err := b.Mutex("stall:k").Locked(ctx); return err }},
	}
	out := make([]timed, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			start := time.Now()
			err := c.f()
			out[i] = timed{c.op, time.Since(start), err}
		})
	}
	wg.Wait()
	return out
}

// TestStalledServer pauses the server (SIGSTOP) under backends that use
// it: every kind of call fails within the call budget, one socket timeout
// (3 s by default), rather than a timeout per retry, and names the budget;
// twice, the second time on the connections the first round left. Once
// the server continues, the same backends work again.
func TestStalledServer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		args   driver.Arguments
		budget time.Duration
	}{
		{"defaults", nil, redis.DefaultCallTimeout},
		{"near_cache", driver.Arguments{"near_cache": true}, redis.DefaultCallTimeout},
		{"socket_timeout", driver.Arguments{"socket_timeout": 0.5}, 500 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := testserver.StartRedis(t)
			args := with(hostPort(t, srv.Addr), "distributed_lock", true)
			for k, v := range c.args {
				args[k] = v
			}
			b := openBackend(t, redis.Name, args)
			ctx := context.Background()
			if err := b.SetBytes(ctx, "stall:k", []byte("v1")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.GetBytes(ctx, "stall:k"); err != nil {
				t.Fatal(err)
			}
			// Taken before the pause: its Release in the first round goes to
			// the server; in the second the handle no longer holds it.
			held := b.Mutex("stall:held")
			if ok, err := held.Acquire(ctx, false); !ok || err != nil {
				t.Fatalf("Acquire = %v, %v", ok, err)
			}
			srv.Pause(t)
			for round := 1; round <= 2; round++ {
				worst := time.Duration(0)
				var report []string
				for _, r := range stalledCalls(b, held) {
					worst = max(worst, r.took)
					report = append(report, fmt.Sprintf("%s %v", r.op, r.took.Round(time.Millisecond)))
					if r.err == nil {
						t.Errorf("round %d: %s succeeded against a paused server", round, r.op)
					}
					if r.took > c.budget+stallSlack {
						t.Errorf("round %d: %s took %v (%v); want at most the budget %v", round, r.op, r.took, r.err, c.budget)
					}
				}
				t.Logf("round %d, budget %v: worst %v: %s", round, c.budget, worst.Round(time.Millisecond), strings.Join(report, ", "))
			}
			// The server runs the commands sent while it was paused, in
			// their order of arrival; then the backend works as before.
			srv.Resume(t)
			deadline := time.Now().Add(10 * time.Second)
			for b.SetBytes(ctx, "stall:back", []byte("back")) != nil {
				if time.Now().After(deadline) {
					t.Fatal("SetBytes fails still after Resume")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if v, ok, err := b.GetBytes(ctx, "stall:back"); err != nil || !ok || string(v) != "back" {
				t.Fatalf("after Resume, GetBytes = %q, %v, %v; want what was just written", v, ok, err)
			}
		})
	}
}

// TestStalledServerLockRelease: releasing a lock held when the server
// stalls fails within the budget.
func TestStalledServerLockRelease(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	b := openBackend(t, redis.Name, with(hostPort(t, srv.Addr), "distributed_lock", true, "socket_timeout", 0.5))
	ctx := context.Background()
	m := b.Mutex("stall:held")
	if ok, err := m.Acquire(ctx, false); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	srv.Pause(t)
	start := time.Now()
	err := m.Release(ctx)
	took := time.Since(start)
	if err == nil || took > 500*time.Millisecond+stallSlack {
		t.Errorf("Release on a paused server = %v after %v; want an error within the budget 500ms", err, took)
	}
	if err != nil && !strings.Contains(err.Error(), "no answer within 500ms") {
		t.Errorf("Release: %v; want it to name the budget", err)
	}
	t.Logf("Release failed after %v: %v", took, err)
}

// TestClosedConnectionReplaced: connections the server closed (CLIENT
// KILL, an idle timeout) are replaced: the next call succeeds rather
// than fail once per dead connection.
func TestClosedConnectionReplaced(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	for _, near := range []bool{false, true} {
		b := openBackend(t, redis.Name, with(hostPort(t, srv.Addr), "near_cache", near))
		raw := rawClient(t, srv.Addr)
		ctx := context.Background()
		// Fill the pool with several connections.
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if err := b.SetBytes(ctx, fmt.Sprint("closed:", i), []byte("v")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if err := raw.Do(ctx, "client", "kill", "type", "normal").Err(); err != nil {
			t.Fatal(err)
		}
		for i := range 8 {
			if _, _, err := b.GetBytes(ctx, fmt.Sprint("closed:", i)); err != nil {
				t.Errorf("near %v: GetBytes %d after the server closed the connections: %v", near, i, err)
			}
			if err := b.SetBytes(ctx, fmt.Sprint("closed:", i), []byte("w")); err != nil {
				t.Errorf("near %v: SetBytes %d after the server closed the connections: %v", near, i, err)
			}
		}
	}
}

// TestStalledServerCallerDeadline: with a caller's deadline shorter than
// the budget, calls end at the caller's deadline.
func TestStalledServerCallerDeadline(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	b := openBackend(t, redis.Name, hostPort(t, srv.Addr))
	if _, _, err := b.GetBytes(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	srv.Pause(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := b.GetBytes(ctx, "k")
	if took := time.Since(start); err == nil || took > 300*time.Millisecond+stallSlack {
		t.Errorf("GetBytes under a 300ms deadline = %v after %v", err, took)
	}
	if err != nil && strings.Contains(err.Error(), "no answer within") {
		t.Errorf("GetBytes: %v; the caller's deadline ended it, not the budget", err)
	}
}

// TestFailOpenStalledServerCallerDeadline (region level): a fail-open
// region whose server is paused, a caller with a 1 s deadline and a
// creator that honours its context and answers at once: the caller gets
// the creator's value, before its deadline. This needs the region to
// keep part of the caller's time for the creator rather than spend all of
// it waiting on the backend's read.
func TestFailOpenStalledServerCallerDeadline(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	r := region(t, time.Minute, redis.Name, with(hostPort(t, srv.Addr), "distributed_lock", true),
		dogpile.WithFailOpen(), dogpile.WithLogger(discard))
	ctx := context.Background()
	if err := r.Set(ctx, "warm", "v"); err != nil {
		t.Fatal(err)
	}
	srv.Pause(t)
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	v, err := dogpile.GetOrCreate(cctx, r, "fresh", func(ctx context.Context) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("the creator started after the caller's deadline: %w", err)
		}
		return "created", nil
	})
	took := time.Since(start)
	t.Logf("GetOrCreate with a 1s deadline on a paused server = %q, %v after %v", v, err, took)
	if err != nil || v != "created" {
		t.Errorf("GetOrCreate = %q, %v after %v; want the creator's value", v, err, took)
	}
	if took > time.Second+stallSlack {
		t.Errorf("GetOrCreate took %v; want it within the caller's 1s deadline", took)
	}
}

// TestStalledServerNewClient: a client given to New that ignores
// contexts (go-redis's defaults: ContextTimeoutEnabled false, 3 retries)
// waits out its own socket timeout, once: the budget stops go-redis's
// retries.
func TestStalledServerNewClient(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	const socketTimeout = 400 * time.Millisecond
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr, ReadTimeout: socketTimeout})
	t.Cleanup(func() { _ = c.Close() })
	b, err := redis.New(c, redis.Options{CallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.SetBytes(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	srv.Pause(t)
	for range 2 {
		start := time.Now()
		_, _, err := b.GetBytes(ctx, "k")
		took := time.Since(start)
		t.Logf("GetBytes on a paused server, ReadTimeout %v, CallTimeout 200ms: %v after %v", socketTimeout, err, took)
		if err == nil || took > socketTimeout+stallSlack {
			t.Errorf("GetBytes = %v after %v; want an error after one socket timeout (%v)", err, took, socketTimeout)
		}
	}
}
