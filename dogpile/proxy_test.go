package dogpile_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// pxLog records calls in order, across proxies.
type pxLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *pxLog) add(s string) {
	l.mu.Lock()
	l.calls = append(l.calls, s)
	l.mu.Unlock()
}

func (l *pxLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

// pxCounter counts every call by method name (GetCounter and SetCounter of
// ProxyBackendTest in one), remembers the values it saw, and logs calls to
// log when there is one.
type pxCounter struct {
	driver.ProxyBackend
	name string
	log  *pxLog

	mu     sync.Mutex
	calls  map[string]int
	values []driver.CachedValue // seen by Set and returned by Get
	bytes  [][]byte             // seen by SetBytes and returned by GetBytes
}

func pxCounting(name string, log *pxLog) driver.Proxy {
	return func(next driver.Backend) driver.Backend {
		return &pxCounter{ProxyBackend: driver.ProxyBackend{Next: next}, name: name, log: log, calls: map[string]int{}}
	}
}

func (p *pxCounter) record(method string) {
	p.mu.Lock()
	p.calls[method]++
	p.mu.Unlock()
	if p.log != nil {
		p.log.add(p.name + "." + method)
	}
}

func (p *pxCounter) count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

func (p *pxCounter) Get(ctx context.Context, key string) (driver.CachedValue, bool, error) {
	p.record("Get")
	cv, ok, err := p.ProxyBackend.Get(ctx, key)
	if ok {
		p.mu.Lock()
		p.values = append(p.values, cv)
		p.mu.Unlock()
	}
	return cv, ok, err
}

func (p *pxCounter) GetMulti(ctx context.Context, keys []string) ([]driver.CachedValue, error) {
	p.record("GetMulti")
	return p.ProxyBackend.GetMulti(ctx, keys)
}

func (p *pxCounter) Set(ctx context.Context, key string, v driver.CachedValue) error {
	p.record("Set")
	p.mu.Lock()
	p.values = append(p.values, v)
	p.mu.Unlock()
	return p.ProxyBackend.Set(ctx, key, v)
}

func (p *pxCounter) SetMulti(ctx context.Context, items []driver.Item) error {
	p.record("SetMulti")
	return p.ProxyBackend.SetMulti(ctx, items)
}

func (p *pxCounter) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	p.record("GetBytes")
	b, ok, err := p.ProxyBackend.GetBytes(ctx, key)
	if ok {
		p.mu.Lock()
		p.bytes = append(p.bytes, b)
		p.mu.Unlock()
	}
	return b, ok, err
}

func (p *pxCounter) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	p.record("GetBytesMulti")
	return p.ProxyBackend.GetBytesMulti(ctx, keys)
}

func (p *pxCounter) SetBytes(ctx context.Context, key string, v []byte) error {
	p.record("SetBytes")
	p.mu.Lock()
	p.bytes = append(p.bytes, v)
	p.mu.Unlock()
	return p.ProxyBackend.SetBytes(ctx, key, v)
}

func (p *pxCounter) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
	p.record("SetBytesMulti")
	return p.ProxyBackend.SetBytesMulti(ctx, items)
}

func (p *pxCounter) Delete(ctx context.Context, key string) error {
	p.record("Delete")
	return p.ProxyBackend.Delete(ctx, key)
}

func (p *pxCounter) DeleteMulti(ctx context.Context, keys []string) error {
	p.record("DeleteMulti")
	return p.ProxyBackend.DeleteMulti(ctx, keys)
}

// pxNeverSet drops writes of some keys (ProxyBackendTest's NeverSetProxy).
type pxNeverSet struct {
	driver.ProxyBackend
	never map[string]bool
}

func pxNeverSetting(keys ...string) driver.Proxy {
	never := map[string]bool{}
	for _, k := range keys {
		never[k] = true
	}
	return func(next driver.Backend) driver.Backend {
		return &pxNeverSet{ProxyBackend: driver.ProxyBackend{Next: next}, never: never}
	}
}

func (p *pxNeverSet) Set(ctx context.Context, key string, v driver.CachedValue) error {
	if p.never[key] {
		return nil
	}
	return p.ProxyBackend.Set(ctx, key, v)
}

func (p *pxNeverSet) SetBytes(ctx context.Context, key string, v []byte) error {
	if p.never[key] {
		return nil
	}
	return p.ProxyBackend.SetBytes(ctx, key, v)
}

// pxReplace stores "never set" in place of every value written with Set,
// keeping the metadata: a proxy that changes values on their way in.
type pxReplace struct{ driver.ProxyBackend }

func pxReplacing(next driver.Backend) driver.Backend {
	return &pxReplace{driver.ProxyBackend{Next: next}}
}

func (p *pxReplace) Set(ctx context.Context, key string, v driver.CachedValue) error {
	v.Payload = "never set"
	return p.ProxyBackend.Set(ctx, key, v)
}

func (p *pxReplace) SetBytes(ctx context.Context, key string, v []byte) error {
	md, _, err := driver.DecodeEntry(v)
	if err != nil {
		return err
	}
	return p.ProxyBackend.SetBytes(ctx, key, driver.EncodeEntry(md, []byte(`"never set"`)))
}

func (p *pxReplace) SetMulti(ctx context.Context, items []driver.Item) error {
	// The region's slice must not be modified: copy.
	out := make([]driver.Item, len(items))
	for i, it := range items {
		it.Value.Payload = "never set"
		out[i] = it
	}
	return p.ProxyBackend.SetMulti(ctx, out)
}

// pxKinds are the two kinds of backend a proxy wraps.
var pxKinds = []struct {
	name    string
	backend string
	bytes   bool
}{
	{"values", "dogpile.cache.memory", false},
	{"bytes", "dogpile.cache.memory_pickle", true},
}

func pxRegion(t *testing.T, backend string, wrap ...driver.Proxy) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion()
	if err := r.Configure(backend, dogpile.Config{Wrap: wrap}); err != nil {
		t.Fatal(err)
	}
	return r
}

func pxOuter(t *testing.T, r *dogpile.Region) *pxCounter {
	t.Helper()
	c, ok := r.Backend().(*pxCounter)
	if !ok {
		t.Fatalf("outer backend is %T, want *pxCounter", r.Backend())
	}
	return c
}

func pxGet(t *testing.T, r *dogpile.Region, key string) (any, bool) {
	t.Helper()
	v, ok, err := dogpile.Get[any](context.Background(), r, key)
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

// ProxyBackendTest::test_counter_proxies, on both kinds of backend, with
// every region operation.
func TestProxyCountsEveryOperation(t *testing.T) {
	ctx := context.Background()
	for _, kind := range pxKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := pxRegion(t, kind.backend, pxCounting("c", nil))
			c := pxOuter(t, r)
			get, getMulti, set, setMulti := "Get", "GetMulti", "Set", "SetMulti"
			if kind.bytes {
				get, getMulti, set, setMulti = "GetBytes", "GetBytesMulti", "SetBytes", "SetBytesMulti"
			}
			for i := range 10 {
				if err := r.Set(ctx, "k", i); err != nil {
					t.Fatal(err)
				}
			}
			if c.count(get) != 0 || c.count(set) != 10 {
				t.Errorf("after 10 sets: %v", c.calls)
			}
			for range 10 {
				if v, ok := pxGet(t, r, "k"); !ok || !pxSameNumber(v, 9) {
					t.Fatalf("Get = %v, %v", v, ok)
				}
			}
			if c.count(get) != 10 || c.count(set) != 10 {
				t.Errorf("after 10 gets: %v", c.calls)
			}
			if err := r.SetMulti(ctx, map[string]any{"a": 1, "b": 2}); err != nil {
				t.Fatal(err)
			}
			vals, err := dogpile.GetMulti[any](ctx, r, []string{"a", "b", "zz"})
			if _, zz := vals["zz"]; err != nil || len(vals) != 2 || zz || !pxSameNumber(vals["b"], 2) {
				t.Fatalf("GetMulti = %v %v", vals, err)
			}
			v, err := dogpile.GetOrCreate(ctx, r, "new", func(context.Context) (any, error) { return "made", nil })
			if err != nil || v != "made" {
				t.Fatalf("GetOrCreate = %v, %v", v, err)
			}
			if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"m1", "m2"}, func(_ context.Context, keys []string) (map[string]any, error) {
				return map[string]any{"m1": "x", "m2": "y"}, nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := r.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if err := r.DeleteMulti(ctx, []string{"a", "b"}); err != nil {
				t.Fatal(err)
			}
			if _, ok := pxGet(t, r, "k"); ok {
				t.Error("deleted through the proxy, still there")
			}
			if _, ok := pxGet(t, r, "a"); ok {
				t.Error("multi-deleted through the proxy, still there")
			}
			for _, m := range []string{getMulti, setMulti, "Delete", "DeleteMulti"} {
				if c.count(m) == 0 {
					t.Errorf("%s never reached the proxy: %v", m, c.calls)
				}
			}
			// The other kind's methods are never used.
			other := []string{"GetBytes", "SetBytes", "GetBytesMulti", "SetBytesMulti"}
			if kind.bytes {
				other = []string{"Get", "Set", "GetMulti", "SetMulti"}
			}
			for _, m := range other {
				if c.count(m) != 0 {
					t.Errorf("%s called on a %s backend", m, kind.name)
				}
			}
		})
	}
}

// pxSameNumber compares numbers across Go values and JSON-decoded values.
func pxSameNumber(v any, n int) bool {
	switch x := v.(type) {
	case int:
		return x == n
	case float64:
		return x == float64(n)
	}
	return false
}

// ProxyBackendTest::test_cachedvalue_passed: a proxy sees CachedValues on a
// ValueBackend and wire-format bytes on a BytesBackend.
func TestProxySeesWhatTheBackendStores(t *testing.T) {
	ctx := context.Background()
	for _, kind := range pxKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := pxRegion(t, kind.backend, pxCounting("c", nil))
			c := pxOuter(t, r)
			if err := r.Set(ctx, "k", "some value"); err != nil {
				t.Fatal(err)
			}
			pxGet(t, r, "k")
			if !kind.bytes {
				if len(c.values) != 2 {
					t.Fatalf("saw %d values", len(c.values))
				}
				for _, cv := range c.values {
					if cv.Payload != "some value" || cv.Metadata.Version != driver.ValueVersion || cv.Metadata.CreatedAt.IsZero() {
						t.Errorf("proxy saw %#v", cv)
					}
				}
				return
			}
			if len(c.bytes) != 2 {
				t.Fatalf("saw %d entries", len(c.bytes))
			}
			for _, b := range c.bytes {
				md, payload, err := driver.DecodeEntry(b)
				if err != nil || md.Version != driver.ValueVersion || string(payload) != `"some value"` {
					t.Errorf("proxy saw %q: %v %q %v", b, md, payload, err)
				}
			}
		})
	}
}

// Config.Wrap [A, B] gives A(B(backend)): A is called first.
func TestProxyWrapOrder(t *testing.T) {
	ctx := context.Background()
	for _, kind := range pxKinds {
		t.Run(kind.name, func(t *testing.T) {
			log := &pxLog{}
			r := pxRegion(t, kind.backend, pxCounting("A", log), pxCounting("B", log))
			a := pxOuter(t, r)
			b, ok := a.Proxied().(*pxCounter)
			if a.name != "A" || !ok || b.name != "B" {
				t.Fatalf("outer %s, next %T", a.name, a.Proxied())
			}
			if actual := driver.Unwrap(r.Backend()); b.Proxied() != actual {
				t.Errorf("B wraps %T, not the actual backend %T", b.Proxied(), actual)
			}
			if err := r.Set(ctx, "k", 1); err != nil {
				t.Fatal(err)
			}
			pxGet(t, r, "k")
			if err := r.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			set, get := "Set", "Get"
			if kind.bytes {
				set, get = "SetBytes", "GetBytes"
			}
			want := []string{"A." + set, "B." + set, "A." + get, "B." + get, "A.Delete", "B.Delete"}
			if got := log.take(); !slices.Equal(got, want) {
				t.Errorf("calls %q, want %q", got, want)
			}
		})
	}
}

// ProxyBackendTest::test_actual_backend_proxied / _noproxy, with
// driver.Unwrap in place of ActualBackend.
func TestProxyActualBackend(t *testing.T) {
	for _, kind := range pxKinds {
		t.Run(kind.name, func(t *testing.T) {
			plain := pxRegion(t, kind.backend)
			if b := plain.Backend(); driver.Unwrap(b) != b {
				t.Errorf("no proxy: Backend %T, Unwrap %T", b, driver.Unwrap(b))
			}

			passThrough := func(next driver.Backend) driver.Backend {
				return &driver.ProxyBackend{Next: next}
			}
			wrapped := pxRegion(t, kind.backend, pxCounting("A", nil), passThrough, pxCounting("C", nil))
			outer := wrapped.Backend()
			if _, ok := outer.(*pxCounter); !ok {
				t.Errorf("Backend() = %T, want the outer proxy", outer)
			}
			want := reflect.TypeOf(&memory.Backend{})
			if kind.bytes {
				want = reflect.TypeOf(&memory.BytesBackend{})
			}
			if actual := driver.Unwrap(outer); reflect.TypeOf(actual) != want {
				t.Errorf("Unwrap(Backend()) = %T, want %v", actual, want)
			}
			if err := wrapped.Set(context.Background(), "k", "v"); err != nil {
				t.Fatal(err)
			}
			if v, ok := pxGet(t, wrapped, "k"); !ok || v != "v" {
				t.Errorf("Get through three proxies = %v, %v", v, ok)
			}
		})
	}
}

// ProxyBackendTest::test_argument_proxies: a proxy built with an argument
// keeps some keys out of the cache.
func TestProxyNeverSet(t *testing.T) {
	ctx := context.Background()
	for _, kind := range pxKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := pxRegion(t, kind.backend, pxNeverSetting("5"))
			for _, k := range []string{"1", "5"} {
				if err := r.Set(ctx, k, true); err != nil {
					t.Fatal(err)
				}
			}
			if _, ok := pxGet(t, r, "5"); ok {
				t.Error("key 5 was stored")
			}
			if v, ok := pxGet(t, r, "1"); !ok || v != true {
				t.Errorf("Get(1) = %v, %v", v, ok)
			}
			// GetOrCreate still returns what it created, and creates again.
			calls := 0
			creator := func(context.Context) (any, error) { calls++; return "made", nil }
			for range 2 {
				if v, err := dogpile.GetOrCreate(ctx, r, "5", creator); err != nil || v != "made" {
					t.Fatalf("GetOrCreate = %v, %v", v, err)
				}
			}
			if calls != 2 {
				t.Errorf("creator called %d times, want 2 (nothing is cached)", calls)
			}
		})
	}
}

// A proxy that changes values on their way in: what is read back is what
// the proxy stored, on both kinds of backend.
func TestProxyModifiesValuesOnSet(t *testing.T) {
	ctx := context.Background()
	for _, kind := range pxKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := pxRegion(t, kind.backend, pxReplacing)
			if err := r.Set(ctx, "k", "real value"); err != nil {
				t.Fatal(err)
			}
			if v, ok := pxGet(t, r, "k"); !ok || v != "never set" {
				t.Errorf("Get = %v, %v, want never set", v, ok)
			}
			s, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "created", nil })
			if err != nil || s != "never set" {
				t.Errorf("typed GetOrCreate = %q, %v", s, err)
			}
			// The creator's value is returned to its caller; the cache
			// holds the proxy's.
			v, err := dogpile.GetOrCreate(ctx, r, "fresh", func(context.Context) (any, error) { return "created", nil })
			if err != nil || v != "created" {
				t.Errorf("GetOrCreate = %v, %v", v, err)
			}
			if v, _ := pxGet(t, r, "fresh"); v != "never set" {
				t.Errorf("after GetOrCreate the cache holds %v", v)
			}
			if !kind.bytes {
				values := map[string]any{"a": 1, "b": 2}
				if err := r.SetMulti(ctx, values); err != nil {
					t.Fatal(err)
				}
				got, err := dogpile.GetMulti[any](ctx, r, []string{"a", "b"})
				if err != nil || fmt.Sprint(got) != "map[a:never set b:never set]" {
					t.Errorf("GetMulti = %v, %v", got, err)
				}
			}
		})
	}
}

// ProxyBackendTest::test_instance_proxies: each configuration gets its own
// proxy instance, so two regions do not share state.
func TestProxyInstancesDoNotInterfere(t *testing.T) {
	ctx := context.Background()
	counting := pxCounting("shared", nil)
	r1 := pxRegion(t, "dogpile.cache.memory", counting)
	r2 := pxRegion(t, "dogpile.cache.memory", counting)
	for range 2 {
		if err := r1.Set(ctx, "a", 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := r2.Set(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	if c1, c2 := pxOuter(t, r1).count("Set"), pxOuter(t, r2).count("Set"); c1 != 2 || c2 != 1 {
		t.Errorf("set counts %d and %d, want 2 and 1", c1, c2)
	}
}

// Replacing a wrapped backend drops the old proxies.
func TestProxyReplaceBackend(t *testing.T) {
	r := pxRegion(t, "dogpile.cache.memory", pxCounting("A", nil))
	if err := r.Configure("dogpile.cache.memory_pickle", dogpile.Config{ReplaceExistingBackend: true}); err != nil {
		t.Fatal(err)
	}
	b := r.Backend()
	if _, ok := b.(*memory.BytesBackend); !ok {
		t.Errorf("Backend() = %T after replacement without wrap", b)
	}
	if actual := driver.Unwrap(b); actual != b {
		t.Errorf("Unwrap(Backend()) = %T, want the new backend", actual)
	}
}

// pxLocking is a proxy that gives a backend without a lock one.
type pxLocking struct {
	driver.ProxyBackend
	lock *remoteLock
}

func (p *pxLocking) Mutex(string) driver.Mutex { return p.lock }

// A proxy may add a lock: the region uses it.
func TestProxyAddsALock(t *testing.T) {
	ctx := context.Background()
	lock := newRemoteLock()
	r := pxRegion(t, "dogpile.cache.memory", func(next driver.Backend) driver.Backend {
		return &pxLocking{ProxyBackend: driver.ProxyBackend{Next: next}, lock: lock}
	})
	if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 1, nil }); err != nil || v != 1 {
		t.Fatalf("GetOrCreate = %v, %v", v, err)
	}
	if n := lock.acquires.Load(); n != 1 {
		t.Errorf("the proxy's lock was acquired %d times, want 1", n)
	}
	if ok, _ := lock.Acquire(ctx, false); !ok {
		t.Fatal("the lock was not released")
	}
	if !isLocked(t, r, "k") {
		t.Error("KeyIsLocked does not ask the proxy's lock")
	}
}
