package dogpile_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
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
	dogpile.ProxyBackend
	name string
	log  *pxLog

	mu     sync.Mutex
	calls  map[string]int
	values []dogpile.CachedValue // seen by Set and returned by Get
	bytes  [][]byte              // seen by SetBytes and returned by GetBytes
}

func pxCounting(name string, log *pxLog) dogpile.Proxy {
	return func(next dogpile.Backend) dogpile.Backend {
		return &pxCounter{ProxyBackend: dogpile.ProxyBackend{Next: next}, name: name, log: log, calls: map[string]int{}}
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

func (p *pxCounter) Get(ctx context.Context, key string) (dogpile.CachedValue, bool, error) {
	p.record("Get")
	cv, ok, err := p.ProxyBackend.Get(ctx, key)
	if ok {
		p.mu.Lock()
		p.values = append(p.values, cv)
		p.mu.Unlock()
	}
	return cv, ok, err
}

func (p *pxCounter) GetMulti(ctx context.Context, keys []string) ([]dogpile.CachedValue, error) {
	p.record("GetMulti")
	return p.ProxyBackend.GetMulti(ctx, keys)
}

func (p *pxCounter) Set(ctx context.Context, key string, v dogpile.CachedValue) error {
	p.record("Set")
	p.mu.Lock()
	p.values = append(p.values, v)
	p.mu.Unlock()
	return p.ProxyBackend.Set(ctx, key, v)
}

func (p *pxCounter) SetMulti(ctx context.Context, items []dogpile.Item) error {
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

func (p *pxCounter) SetBytesMulti(ctx context.Context, items []dogpile.BytesItem) error {
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
	dogpile.ProxyBackend
	never map[string]bool
}

func pxNeverSetting(keys ...string) dogpile.Proxy {
	never := map[string]bool{}
	for _, k := range keys {
		never[k] = true
	}
	return func(next dogpile.Backend) dogpile.Backend {
		return &pxNeverSet{ProxyBackend: dogpile.ProxyBackend{Next: next}, never: never}
	}
}

func (p *pxNeverSet) Set(ctx context.Context, key string, v dogpile.CachedValue) error {
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
type pxReplace struct{ dogpile.ProxyBackend }

func pxReplacing(next dogpile.Backend) dogpile.Backend {
	return &pxReplace{dogpile.ProxyBackend{Next: next}}
}

func (p *pxReplace) Set(ctx context.Context, key string, v dogpile.CachedValue) error {
	v.Payload = "never set"
	return p.ProxyBackend.Set(ctx, key, v)
}

func (p *pxReplace) SetBytes(ctx context.Context, key string, v []byte) error {
	md, _, err := dogpile.DecodeEntry(v)
	if err != nil {
		return err
	}
	return p.ProxyBackend.SetBytes(ctx, key, dogpile.EncodeEntry(md, []byte(`"never set"`)))
}

func (p *pxReplace) SetMulti(ctx context.Context, items []dogpile.Item) error {
	// The region's slice must not be modified: copy.
	out := make([]dogpile.Item, len(items))
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

func pxRegion(t *testing.T, backend string, wrap ...dogpile.Proxy) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion()
	if err := r.Configure(backend, dogpile.Config{Wrap: wrap}); err != nil {
		t.Fatal(err)
	}
	return r
}

func pxOuter(t *testing.T, r *dogpile.Region) *pxCounter {
	t.Helper()
	b, err := r.Backend()
	if err != nil {
		t.Fatal(err)
	}
	c, ok := b.(*pxCounter)
	if !ok {
		t.Fatalf("outer backend is %T, want *pxCounter", b)
	}
	return c
}

func pxGet(t *testing.T, r *dogpile.Region, key string) (any, bool) {
	t.Helper()
	v, ok, err := r.Get(context.Background(), key)
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
			vals, found, err := r.GetMulti(ctx, []string{"a", "b", "zz"})
			if err != nil || !slices.Equal(found, []bool{true, true, false}) || !pxSameNumber(vals[1], 2) {
				t.Fatalf("GetMulti = %v %v %v", vals, found, err)
			}
			v, err := r.GetOrCreate(ctx, "new", func(context.Context) (any, error) { return "made", nil })
			if err != nil || v != "made" {
				t.Fatalf("GetOrCreate = %v, %v", v, err)
			}
			if _, err := r.GetOrCreateMulti(ctx, []string{"m1", "m2"}, func(_ context.Context, keys []string) ([]any, error) {
				return []any{"x", "y"}, nil
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
					if cv.Payload != "some value" || cv.Metadata.Version != dogpile.ValueVersion || cv.Metadata.CreatedAt.IsZero() {
						t.Errorf("proxy saw %#v", cv)
					}
				}
				return
			}
			if len(c.bytes) != 2 {
				t.Fatalf("saw %d entries", len(c.bytes))
			}
			for _, b := range c.bytes {
				md, payload, err := dogpile.DecodeEntry(b)
				if err != nil || md.Version != dogpile.ValueVersion || string(payload) != `"some value"` {
					t.Errorf("proxy saw %q: %v %q %v", b, md, payload, err)
				}
			}
		})
	}
}

// configure(wrap=[A, B]) gives A(B(backend)): A is called first.
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
			actual, err := r.ActualBackend()
			if err != nil {
				t.Fatal(err)
			}
			if b.Proxied() != actual {
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

// ProxyBackendTest::test_actual_backend_proxied / _noproxy.
func TestProxyActualBackend(t *testing.T) {
	for _, kind := range pxKinds {
		t.Run(kind.name, func(t *testing.T) {
			plain := pxRegion(t, kind.backend)
			b, _ := plain.Backend()
			actual, err := plain.ActualBackend()
			if err != nil || b != actual {
				t.Errorf("no proxy: Backend %T, ActualBackend %T, %v", b, actual, err)
			}

			passThrough := func(next dogpile.Backend) dogpile.Backend {
				return &dogpile.ProxyBackend{Next: next}
			}
			wrapped := pxRegion(t, kind.backend, pxCounting("A", nil), passThrough, pxCounting("C", nil))
			outer, _ := wrapped.Backend()
			if _, ok := outer.(*pxCounter); !ok {
				t.Errorf("Backend() = %T, want the outer proxy", outer)
			}
			actual, err = wrapped.ActualBackend()
			if err != nil {
				t.Fatal(err)
			}
			want := reflect.TypeOf(&dogpile.MemoryBackend{})
			if kind.bytes {
				want = reflect.TypeOf(&dogpile.MemoryBytesBackend{})
			}
			if reflect.TypeOf(actual) != want {
				t.Errorf("ActualBackend() = %T, want %v", actual, want)
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
				if v, err := r.GetOrCreate(ctx, "5", creator); err != nil || v != "made" {
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
			v, err := r.GetOrCreate(ctx, "fresh", func(context.Context) (any, error) { return "created", nil })
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
				got, _, err := r.GetMulti(ctx, []string{"a", "b"})
				if err != nil || !slices.Equal(got, []any{"never set", "never set"}) {
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

const (
	pxRegA = "test.proxy.a"
	pxRegB = "test.proxy.b"
)

func init() {
	dogpile.RegisterProxy(pxRegA, pxCounting("A", nil))
	dogpile.RegisterProxy(pxRegB, pxCounting("B", nil))
}

func TestRegisterProxy(t *testing.T) {
	p, err := dogpile.LookupProxy(pxRegA)
	if err != nil || p == nil {
		t.Fatalf("LookupProxy(%s) = %v, %v", pxRegA, p, err)
	}
	if b, ok := p(dogpile.NewMemoryBackend()).(*pxCounter); !ok || b.name != "A" {
		t.Errorf("registered proxy builds %T", b)
	}
	_, err = dogpile.LookupProxy("test.proxy.missing")
	if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), `"test.proxy.missing"`) ||
		!strings.Contains(err.Error(), pxRegA) {
		t.Errorf("LookupProxy(missing) = %v, want ErrInvalidArgument naming it and the registered ones", err)
	}
	for name, f := range map[string]func(){
		"duplicate": func() { dogpile.RegisterProxy(pxRegA, pxReplacing) },
		"empty":     func() { dogpile.RegisterProxy("", pxReplacing) },
		"nil":       func() { dogpile.RegisterProxy("test.proxy.nil", nil) },
	} {
		if msg, panicked := regPanics(f); !panicked || !strings.HasPrefix(msg, "dogpile:") {
			t.Errorf("%s: panicked %v with %q", name, panicked, msg)
		}
	}
	if _, err := dogpile.LookupProxy("test.proxy.nil"); err == nil {
		t.Error("a refused proxy was registered")
	}
}

// The wrap key of ConfigureFromConfig: names (text or a list), Proxy
// values, outermost first.
func TestConfigureFromConfigWrap(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		wrap  any
		outer []string // the counters from outside in
	}{
		{"comma-separated names", " test.proxy.a , test.proxy.b ", []string{"A", "B"}},
		{"one name", pxRegB, []string{"B"}},
		{"names in reverse", "test.proxy.b,test.proxy.a", []string{"B", "A"}},
		{"list of names", []string{pxRegA, pxRegB}, []string{"A", "B"}},
		{"[]any of names and proxies", []any{pxRegA, pxCounting("X", nil)}, []string{"A", "X"}},
		{"[]Proxy", []dogpile.Proxy{pxCounting("X", nil), pxCounting("Y", nil)}, []string{"X", "Y"}},
		{"one Proxy", pxCounting("X", nil), []string{"X"}},
		{"a func", func(next dogpile.Backend) dogpile.Backend { return pxCounting("F", nil)(next) }, []string{"F"}},
		{"empty text", "", nil},
		{"None", "None", nil},
		{"nil", nil, nil},
		{"empty list", []string{}, nil},
	}
	for _, tt := range tests {
		for _, kind := range pxKinds {
			t.Run(tt.name+"/"+kind.name, func(t *testing.T) {
				r := dogpile.NewRegion()
				err := r.ConfigureFromConfig(map[string]any{
					"cache.example.backend": kind.backend,
					"cache.example.wrap":    tt.wrap,
				}, "cache.example.")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := r.Backend()
				var got []string
				for {
					c, ok := b.(*pxCounter)
					if !ok {
						break
					}
					got = append(got, c.name)
					b = c.Proxied()
				}
				if !slices.Equal(got, tt.outer) {
					t.Errorf("proxies %q, want %q", got, tt.outer)
				}
				if actual, _ := r.ActualBackend(); b != actual {
					t.Errorf("innermost %T is not the actual backend %T", b, actual)
				}
				if err := r.Set(ctx, "k", "v"); err != nil {
					t.Fatal(err)
				}
				if v, ok := pxGet(t, r, "k"); !ok || v != "v" {
					t.Errorf("Get through the proxies = %v, %v", v, ok)
				}
			})
		}
	}
}

func TestConfigureFromConfigWrapErrors(t *testing.T) {
	tests := []struct {
		name string
		wrap any
		want string
	}{
		{"unknown name", "test.proxy.a, test.proxy.nope", `"test.proxy.nope"`},
		{"unknown name in a list", []string{"test.proxy.nope"}, `"test.proxy.nope"`},
		{"number", 5, "cache.example.wrap"},
		{"bool text", "true", "cache.example.wrap"},
		{"list of numbers", []any{1}, "cache.example.wrap"},
		{"nil Proxy", []dogpile.Proxy{nil}, "nil proxy"},
		{"nil in []any", []any{dogpile.Proxy(nil)}, "nil proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dogpile.NewRegion()
			err := r.ConfigureFromConfig(map[string]any{
				"cache.example.backend": "dogpile.cache.memory",
				"cache.example.wrap":    tt.wrap,
			}, "cache.example.")
			if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidArgument mentioning %s", err, tt.want)
			}
			if strings.Count(err.Error(), "dogpile:") != 1 {
				t.Errorf("error %q repeats the dogpile: prefix", err)
			}
			if r.IsConfigured() {
				t.Error("region configured after an error")
			}
		})
	}
}

// Replacing a wrapped backend drops the old proxies.
func TestProxyReplaceBackend(t *testing.T) {
	r := pxRegion(t, "dogpile.cache.memory", pxCounting("A", nil))
	if err := r.ConfigureFromConfig(map[string]any{
		"p.backend": "dogpile.cache.memory_pickle", "p.replace_existing_backend": "true",
	}, "p."); err != nil {
		t.Fatal(err)
	}
	b, _ := r.Backend()
	if _, ok := b.(*dogpile.MemoryBytesBackend); !ok {
		t.Errorf("Backend() = %T after replacement without wrap", b)
	}
	if actual, _ := r.ActualBackend(); actual != b {
		t.Errorf("ActualBackend() = %T, want the new backend", actual)
	}
}
