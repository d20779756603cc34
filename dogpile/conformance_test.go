package dogpile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/backends/null"
	"github.com/dogpilego/dogpile/dogpile/dogpiletest"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

// TestConformance runs the backend conformance suite against the built-in
// storing backends, bare, behind proxies, opened by name, and with a lock
// of their own.
func TestConformance(t *testing.T) {
	open := func(name string) func(t *testing.T) driver.Backend {
		return func(t *testing.T) driver.Backend {
			b, err := driver.Open(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	// One backend for every New, as one server is for every process: the
	// suite's shared-storage checks run against these.
	sharedValues, sharedLocking := must(memory.New(memory.Options{})), newLockingMemory()
	cases := []struct {
		name string
		opts dogpiletest.Options
	}{
		{"SharedMemory", dogpiletest.Options{New: func(*testing.T) driver.Backend { return sharedValues }}},
		{"SharedLockingMemory", dogpiletest.Options{New: func(*testing.T) driver.Backend { return sharedLocking }}},
		{"Memory", dogpiletest.Options{New: func(*testing.T) driver.Backend {
			return must(memory.New(memory.Options{}))
		}}},
		{"MemoryBytes", dogpiletest.Options{New: func(*testing.T) driver.Backend {
			return must(memory.NewBytes(memory.Options{}))
		}}},
		{"ProxyMemory", dogpiletest.Options{New: func(*testing.T) driver.Backend {
			return &driver.ProxyBackend{Next: must(memory.New(memory.Options{}))}
		}}},
		{"ProxyProxyMemoryBytes", dogpiletest.Options{New: func(*testing.T) driver.Backend {
			return &driver.ProxyBackend{Next: &driver.ProxyBackend{Next: must(memory.NewBytes(memory.Options{}))}}
		}}},
		{"OpenMemory", dogpiletest.Options{New: open(memory.Name)}},
		{"OpenMemoryPickle", dogpiletest.Options{New: open(memory.BytesName)}},
		{"LockingMemory", dogpiletest.Options{New: func(*testing.T) driver.Backend {
			return newLockingMemory()
		}}},
		{"ProxyLockingMemory", dogpiletest.Options{New: func(*testing.T) driver.Backend {
			return &driver.ProxyBackend{Next: newLockingMemory()}
		}}},
		{"ProxyAddingLock", dogpiletest.Options{New: func(*testing.T) driver.Backend {
			return &lockingProxy{ProxyBackend: &driver.ProxyBackend{Next: must(memory.NewBytes(memory.Options{}))}, locks: newLockTable()}
		}}},
		{"LockingMemorySHA1Keys", dogpiletest.Options{
			New:        func(*testing.T) driver.Backend { return newLockingMemory() },
			KeyMangler: pyconfig.SHA1MangleKey,
		}},
		{"MemoryBytesQuiet", dogpiletest.Options{
			New:           func(*testing.T) driver.Backend { return must(memory.NewBytes(memory.Options{})) },
			RegionOptions: []dogpile.Option{quiet, dogpile.WithCodec(dogpile.JSON)},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { dogpiletest.TestBackend(t, c.opts) })
	}
}

// lockingMemory is a memory backend with a lock of its own, the in-process
// stand-in for a backend with a distributed lock: every Mutex value for a
// key shares one lock, as processes share a Redis lock key.
type lockingMemory struct {
	*memory.Backend
	locks *lockTable
}

func newLockingMemory() *lockingMemory {
	return &lockingMemory{Backend: must(memory.New(memory.Options{})), locks: newLockTable()}
}

// Mutex returns a new lock handle for key.
func (b *lockingMemory) Mutex(key string) driver.Mutex {
	return &tableMutex{locks: b.locks, key: key}
}

// lockingProxy is a proxy that gives the backend it wraps a lock.
type lockingProxy struct {
	*driver.ProxyBackend
	locks *lockTable
}

// Mutex returns a new lock handle for key.
func (p *lockingProxy) Mutex(key string) driver.Mutex {
	return &tableMutex{locks: p.locks, key: key}
}

func newLockTable() *lockTable { return &lockTable{held: map[string]chan struct{}{}} }

// lockTable holds the held locks: a channel per key, closed on release.
type lockTable struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

type tableMutex struct {
	locks *lockTable
	key   string

	mu   sync.Mutex
	mine chan struct{} // the table's channel while this handle holds the lock
}

func (m *tableMutex) Acquire(ctx context.Context, wait bool) (bool, error) {
	for {
		m.locks.mu.Lock()
		ch, held := m.locks.held[m.key]
		if !held {
			ch = make(chan struct{})
			m.locks.held[m.key] = ch
			m.locks.mu.Unlock()
			m.mu.Lock()
			m.mine = ch
			m.mu.Unlock()
			return true, nil
		}
		m.locks.mu.Unlock()
		if !wait {
			return false, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false, fmt.Errorf("waiting for the lock of %q: %w", m.key, ctx.Err())
		}
	}
}

func (m *tableMutex) Release(context.Context) error {
	m.mu.Lock()
	ch := m.mine
	m.mine = nil
	m.mu.Unlock()
	if ch == nil {
		return fmt.Errorf("release of %q by a handle that does not hold it", m.key)
	}
	m.locks.mu.Lock()
	if m.locks.held[m.key] == ch {
		delete(m.locks.held, m.key)
	}
	m.locks.mu.Unlock()
	close(ch)
	return nil
}

func (m *tableMutex) Locked(context.Context) (bool, error) {
	m.locks.mu.Lock()
	defer m.locks.mu.Unlock()
	_, held := m.locks.held[m.key]
	return held, nil
}

// TestNullBackend checks dogpile.cache.null on its own terms, since it
// cannot pass a suite of storing backends: everything misses, every call
// creates, and its lock never excludes.
func TestNullBackend(t *testing.T) {
	ctx := t.Context()
	newRegion := func(t *testing.T) *dogpile.Region {
		b, err := driver.Open(null.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := b.(null.Backend); !ok {
			t.Fatalf("%s opened a %T; want null.Backend", null.Name, b)
		}
		r := dogpile.NewRegion()
		if err := r.ConfigureBackend(b, dogpile.Config{}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	value := driver.CachedValue{Payload: "v", Metadata: driver.Metadata{CreatedAt: time.Now(), Version: driver.ValueVersion}}

	t.Run("Raw", func(t *testing.T) {
		b := null.Backend{}
		if err := b.Set(ctx, "k", value); err != nil {
			t.Fatal(err)
		}
		if err := b.SetMulti(ctx, []driver.Item{{Key: "k2", Value: value}}); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := b.Get(ctx, "k"); ok || err != nil || v.Payload != nil || v.Metadata.Version != 0 {
			t.Errorf("Get = %+v, %v, %v; want a miss", v, ok, err)
		}
		vals, err := b.GetMulti(ctx, []string{"k", "k2", "k3"})
		if err != nil || len(vals) != 3 {
			t.Fatalf("GetMulti = %v, %v; want 3 misses", vals, err)
		}
		for i, v := range vals {
			if v.Payload != nil || v.Metadata.Version != 0 {
				t.Errorf("GetMulti entry %d = %+v; want a miss", i, v)
			}
		}
		if err := b.Delete(ctx, "k"); err != nil {
			t.Error(err)
		}
		if err := b.DeleteMulti(ctx, []string{"k", "k2"}); err != nil {
			t.Error(err)
		}
	})

	t.Run("Region", func(t *testing.T) {
		r := newRegion(t)
		if err := r.Set(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := dogpile.Get[any](ctx, r, "k"); ok || err != nil || v != nil {
			t.Errorf("Get after Set = %#v, %v, %v; want a miss", v, ok, err)
		}
		if err := r.SetMulti(ctx, map[string]any{"k1": "v1", "k2": "v2"}); err != nil {
			t.Fatal(err)
		}
		vals, err := dogpile.GetMulti[any](ctx, r, []string{"k1", "k2", "k3"})
		if err != nil || len(vals) != 0 {
			t.Errorf("GetMulti after SetMulti = %v, %v; want three misses", vals, err)
		}
		if err := r.Delete(ctx, "k"); err != nil {
			t.Error(err)
		}
		if err := r.DeleteMulti(ctx, []string{"k1", "k2"}); err != nil {
			t.Error(err)
		}
	})

	t.Run("CreatorEveryCall", func(t *testing.T) {
		r := newRegion(t)
		n := 0
		for want := 1; want <= 3; want++ {
			got, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) {
				n++
				return n, nil
			})
			if err != nil || got != want {
				t.Errorf("call %d: GetOrCreate = %d, %v; want %d (a new value each call)", want, got, err, want)
			}
		}
		var asked [][]string
		for range 2 {
			got, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(_ context.Context, keys []string) (map[string]any, error) {
				asked = append(asked, keys)
				return map[string]any{"a": "A", "b": "B"}, nil
			})
			if err != nil || !reflect.DeepEqual(got, map[string]any{"a": "A", "b": "B"}) {
				t.Errorf("GetOrCreateMulti = %v, %v; want map[a:A b:B]", got, err)
			}
		}
		if want := [][]string{{"a", "b"}, {"a", "b"}}; !reflect.DeepEqual(asked, want) {
			t.Errorf("the multi creator was asked for %q; want %q", asked, want)
		}
	})

	t.Run("Mutex", func(t *testing.T) {
		m := null.Backend{}.Mutex("k")
		if m == nil {
			t.Fatal("null.Backend.Mutex returned nil")
		}
		if ok, err := m.Acquire(ctx, true); !ok || err != nil {
			t.Errorf("Acquire(wait) = %v, %v; want true", ok, err)
		}
		if err := m.Release(ctx); err != nil {
			t.Error(err)
		}
		if ok, err := m.Acquire(ctx, false); !ok || err != nil {
			t.Errorf("Acquire(no wait) after Release = %v, %v; want true", ok, err)
		}
		if err := m.Release(ctx); err != nil {
			t.Error(err)
		}
	})

	t.Run("MutexDoesNotLock", func(t *testing.T) {
		b := null.Backend{}
		m := b.Mutex("k")
		if ok, err := m.Acquire(ctx, true); !ok || err != nil {
			t.Fatalf("Acquire(wait) = %v, %v; want true", ok, err)
		}
		if ok, err := m.Acquire(ctx, false); !ok || err != nil {
			t.Errorf("Acquire(no wait) of the held lock = %v, %v; want true: the null lock never excludes", ok, err)
		}
		if ok, err := b.Mutex("k").Acquire(ctx, false); !ok || err != nil {
			t.Errorf("another Mutex's Acquire(no wait) = %v, %v; want true", ok, err)
		}
		if locked, err := m.Locked(ctx); locked || err != nil {
			t.Errorf("Locked = %v, %v; want false", locked, err)
		}
	})

	// The callers of one process still share one creation.
	t.Run("CoalescesInProcess", func(t *testing.T) {
		r := newRegion(t)
		const n = 10
		var calls atomic.Int32
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		creator := func(context.Context) (any, error) {
			calls.Add(1)
			once.Do(func() { close(entered) })
			<-release
			return "v", nil
		}
		results := make(chan error, n)
		go func() {
			_, err := dogpile.GetOrCreate(ctx, r, "k", creator)
			results <- err
		}()
		<-entered
		if locked, err := r.KeyIsLocked(ctx, "k"); !locked || err != nil {
			t.Errorf("KeyIsLocked during a creation = %v, %v; want true", locked, err)
		}
		for range n - 1 {
			wctx := newWaitingCtx(ctx)
			go func() {
				v, err := dogpile.GetOrCreate(wctx, r, "k", creator)
				if err == nil && v != "v" {
					err = fmt.Errorf("got %#v", v)
				}
				results <- err
			}()
			<-wctx.waiting
		}
		close(release)
		for range n {
			if err := <-results; err != nil {
				t.Error(err)
			}
		}
		// Every caller waited on the one creation: nothing is stored, yet
		// the creator ran once.
		if c := calls.Load(); c != 1 {
			t.Errorf("the creator ran %d times for %d callers, want 1", c, n)
		}
		if locked, err := r.KeyIsLocked(ctx, "k"); locked || err != nil {
			t.Errorf("KeyIsLocked after the creation = %v, %v; want false", locked, err)
		}
	})
}

// The suite must fail backends that break the contract. Each broken
// backend runs in a child process, since a failing suite fails its test.

const brokenEnv = "DOGPILETEST_BROKEN_BACKEND"

func TestConformanceDetectsBrokenBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child test processes")
	}
	if os.Getenv(brokenEnv) != "" {
		t.Skip("in a child process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	const parent = "--- FAIL: TestConformanceBrokenBackend/"
	cases := []struct {
		broken string
		want   []string
	}{
		{"neither", []string{"implements neither driver.ValueBackend nor driver.BytesBackend"}},
		{"misaligned", []string{parent + "Raw/Missing ", parent + "Raw/Multi ", parent + "Region/GetMultiMissing "}},
		{"cstring", []string{parent + "Raw/BinaryValues "}},
		{"zeromiss", []string{parent + "Raw/Payloads ", parent + "Region/ZeroValues "}},
		{"nonexclusive", []string{parent + "Lock/Mutex ", parent + "Lock/KeyIsLocked "}},
	}
	for _, c := range cases {
		t.Run(c.broken, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestConformanceBrokenBackend$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+c.broken)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a %s backend (err %v):\n%s", c.broken, err, out)
			}
			for _, w := range c.want {
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("the output for a %s backend lacks %q:\n%s", c.broken, w, tail(out, 60))
				}
			}
		})
	}
}

// TestConformanceBrokenBackend runs the suite against a broken backend in
// the child processes of TestConformanceDetectsBrokenBackends.
func TestConformanceBrokenBackend(t *testing.T) {
	broken := os.Getenv(brokenEnv)
	if broken == "" {
		t.Skip("run by TestConformanceDetectsBrokenBackends")
	}
	var newBackend func() driver.Backend
	switch broken {
	case "neither":
		newBackend = func() driver.Backend { return onlyDeletes{} }
	case "misaligned":
		newBackend = func() driver.Backend { return misalignedMemory{must(memory.New(memory.Options{}))} }
	case "cstring":
		newBackend = func() driver.Backend { return cstringMemory{must(memory.NewBytes(memory.Options{}))} }
	case "zeromiss":
		newBackend = func() driver.Backend { return zeroMissMemory{must(memory.New(memory.Options{}))} }
	case "nonexclusive":
		newBackend = func() driver.Backend { return nonexclusiveMemory{must(memory.New(memory.Options{}))} }
	default:
		t.Fatalf("unknown broken backend %q", broken)
	}
	dogpiletest.TestBackend(t, dogpiletest.Options{New: func(*testing.T) driver.Backend { return newBackend() }})
}

// misalignedMemory leaves misses out of GetMulti.
type misalignedMemory struct{ *memory.Backend }

func (b misalignedMemory) GetMulti(ctx context.Context, keys []string) ([]driver.CachedValue, error) {
	vals, err := b.Backend.GetMulti(ctx, keys)
	var out []driver.CachedValue
	for _, v := range vals {
		if v.Metadata.Version != 0 { // a miss is the zero CachedValue
			out = append(out, v)
		}
	}
	return out, err
}

// cstringMemory cuts entries at their first NUL byte.
type cstringMemory struct{ *memory.BytesBackend }

func (b cstringMemory) SetBytes(ctx context.Context, key string, value []byte) error {
	if i := bytes.IndexByte(value, 0); i >= 0 {
		value = value[:i]
	}
	return b.BytesBackend.SetBytes(ctx, key, value)
}

func (b cstringMemory) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
	for _, it := range items {
		if err := b.SetBytes(ctx, it.Key, it.Value); err != nil {
			return err
		}
	}
	return nil
}

// zeroMissMemory takes stored zero payloads for misses.
type zeroMissMemory struct{ *memory.Backend }

func (b zeroMissMemory) Get(ctx context.Context, key string) (driver.CachedValue, bool, error) {
	v, ok, err := b.Backend.Get(ctx, key)
	if ok && (v.Payload == nil || reflect.ValueOf(v.Payload).IsZero()) {
		return driver.CachedValue{}, false, err
	}
	return v, ok, err
}

// nonexclusiveMemory has a lock that never excludes anyone.
type nonexclusiveMemory struct{ *memory.Backend }

func (nonexclusiveMemory) Mutex(key string) driver.Mutex { return null.Backend{}.Mutex(key) }

func tail(out []byte, lines int) string {
	l := strings.Split(string(out), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
