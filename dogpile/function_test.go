package dogpile

// Tests of function caching, ported from dogpile.cache's
// tests/cache/test_decorator.py (DecoratorTest, CacheDecoratorTest) where
// the behaviour carries over to Go. Expiry uses a fake clock, not sleeps.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

const funcTestPkg = "github.com/dogpilego/dogpile/dogpile"

// funcTestBackends are the backends every behaviour is checked on: Go
// values as they are, and bytes through the JSON codec.
var funcTestBackends = []string{memory.Name, memory.BytesName}

type funcTestClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *funcTestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *funcTestClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newFuncTestRegion(t testing.TB, backend string, exp time.Duration, opts ...Option) (*Region, *funcTestClock) {
	t.Helper()
	return newFuncTestRegionArgs(t, backend, exp, nil, opts...)
}

func newFuncTestRegionArgs(t testing.TB, backend string, exp time.Duration, args map[string]any, opts ...Option) (*Region, *funcTestClock) {
	t.Helper()
	clk := &funcTestClock{now: time.Unix(1_700_000_000, 0)}
	base := []Option{WithClock(clk.Now), WithLogger(slog.New(slog.DiscardHandler))}
	r := NewRegion(append(base, opts...)...)
	if err := r.Configure(backend, Config{ExpirationTime: exp, Arguments: args}); err != nil {
		t.Fatal(err)
	}
	return r, clk
}

// newFuncTestRegionOn is newFuncTestRegion on a backend the test built.
func newFuncTestRegionOn(t testing.TB, b driver.Backend, exp time.Duration, opts ...Option) (*Region, *funcTestClock) {
	t.Helper()
	clk := &funcTestClock{now: time.Unix(1_700_000_000, 0)}
	base := []Option{WithClock(clk.Now), WithLogger(slog.New(slog.DiscardHandler))}
	r := NewRegion(append(base, opts...)...)
	if err := r.ConfigureBackend(b, Config{ExpirationTime: exp}); err != nil {
		t.Fatal(err)
	}
	return r, clk
}

// funcTestKeysOf returns the sorted keys a test's map backend holds.
func funcTestKeysOf(m map[string]driver.CachedValue) []string {
	return slices.Sorted(maps.Keys(m))
}

// funcTriple is DecoratorTest's (next(counter), a, b) tuple.
type funcTriple struct {
	N, A, B int
}

// funcTestGo is DecoratorTest's go(a, b).
func funcTestGo(counter *atomic.Int64) func(context.Context, int, int) (funcTriple, error) {
	return func(_ context.Context, a, b int) (funcTriple, error) {
		return funcTriple{int(counter.Add(1)), a, b}, nil
	}
}

func mustCall2[A, B, R any](t *testing.T, f *Func2[A, B, R], a A, b B) R {
	t.Helper()
	v, err := f.Call(context.Background(), a, b)
	if err != nil {
		t.Fatalf("Call(%v, %v): %v", a, b, err)
	}
	return v
}

// TestFuncDecorator ports DecoratorTest's test_decorator,
// test_decorator_namespace, test_decorator_custom_expire and
// test_decorator_expire_callable: region expiration 250ms.
func TestFuncDecorator(t *testing.T) {
	type step struct {
		advance time.Duration
		a, b    int
		want    int // the counter value the call returns
	}
	basic := []step{{0, 1, 2, 1}, {0, 3, 4, 2}, {0, 1, 2, 1}, {300 * time.Millisecond, 1, 2, 3}}
	longer := []step{{0, 1, 2, 1}, {0, 3, 4, 2}, {0, 1, 2, 1},
		{300 * time.Millisecond, 1, 2, 1}, {300 * time.Millisecond, 1, 2, 3}}
	tests := []struct {
		name    string
		opts    []FuncOption
		steps   []step
		wantKey string
	}{
		{"plain", nil, basic, "tests.cache.test_decorator:go|1 2"},
		{"namespace", []FuncOption{Namespace("x")}, basic, "tests.cache.test_decorator:go|x|1 2"},
		{"custom expire", []FuncOption{Expiration(500 * time.Millisecond)}, longer, ""},
		{"expire callable", []FuncOption{ExpirationFunc(func(time.Time) time.Duration { return 500 * time.Millisecond })}, longer, ""},
	}
	for _, backend := range funcTestBackends {
		for _, tt := range tests {
			t.Run(backend+"/"+tt.name, func(t *testing.T) {
				r, clk := newFuncTestRegion(t, backend, 250*time.Millisecond)
				var counter atomic.Int64
				opts := append([]FuncOption{FuncName("tests.cache.test_decorator", "go")}, tt.opts...)
				f := Cache2(r, funcTestGo(&counter), opts...)
				for i, s := range tt.steps {
					clk.Advance(s.advance)
					if got, want := mustCall2(t, f, s.a, s.b), (funcTriple{s.want, s.a, s.b}); got != want {
						t.Fatalf("step %d: go(%d, %d) = %v, want %v", i, s.a, s.b, got, want)
					}
				}
				if tt.wantKey != "" {
					if got := mustKey(f.Key(1, 2)); got != tt.wantKey {
						t.Errorf("Key(1, 2) = %q, want %q", got, tt.wantKey)
					}
				}
			})
		}
	}
}

// TestFuncExpireCallableEveryCall checks that ExpirationFunc is asked on
// every call, with the value's creation time (test_decorator_expire_callable
// and _zero in spirit: dogpile.cache's 0 means "always expired"; here 0
// means the region's expiration time and a negative duration never).
func TestFuncExpireCallableEveryCall(t *testing.T) {
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, clk := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var exp atomic.Int64
			exp.Store(int64(time.Hour))
			var createdMu sync.Mutex
			var created []time.Time
			var counter atomic.Int64
			f := Cache2(r, funcTestGo(&counter), ExpirationFunc(func(ct time.Time) time.Duration {
				createdMu.Lock()
				created = append(created, ct)
				createdMu.Unlock()
				return time.Duration(exp.Load())
			}))
			check := func(step string, want int) {
				t.Helper()
				if got := mustCall2(t, f, 1, 2).N; got != want {
					t.Fatalf("%s: counter %d, want %d", step, got, want)
				}
			}
			start := clk.Now()
			check("first", 1)
			clk.Advance(time.Second)
			check("an hour's expiry", 1)
			createdMu.Lock()
			if len(created) == 0 || !created[len(created)-1].Equal(start) {
				t.Errorf("ExpirationFunc got creation times %v, want the last to be %v", created, start)
			}
			createdMu.Unlock()
			exp.Store(int64(time.Millisecond))
			check("1ms expiry, value 1s old", 2)
			clk.Advance(2 * time.Millisecond)
			check("1ms expiry, value 2ms old", 3)
			exp.Store(0)
			clk.Advance(100 * time.Millisecond)
			check("0: the region's 250ms, value 100ms old", 3)
			clk.Advance(200 * time.Millisecond)
			check("0: the region's 250ms, value 300ms old", 4)
			exp.Store(int64(NoExpiration))
			clk.Advance(24 * time.Hour)
			check("NoExpiration", 4)
			exp.Store(int64(-5 * time.Second))
			check("any negative duration: never", 4)
		})
	}
}

// TestFuncNoExpiration: Expiration(NoExpiration) outlives the region's
// expiration; Get honours it too.
func TestFuncNoExpiration(t *testing.T) {
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			r, clk := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			never := Cache2(r, funcTestGo(&counter), Expiration(NoExpiration), Namespace("never"))
			regional := Cache2(r, funcTestGo(&counter), Namespace("regional"))
			mustCall2(t, never, 1, 2)
			mustCall2(t, regional, 1, 2)
			clk.Advance(24 * time.Hour)
			if _, ok, err := never.Get(ctx, 1, 2); err != nil || !ok {
				t.Errorf("never.Get after a day = %v, %v; want a value", ok, err)
			}
			if _, ok, err := regional.Get(ctx, 1, 2); err != nil || ok {
				t.Errorf("regional.Get after a day = %v, %v; want no value", ok, err)
			}
			if got := mustCall2(t, never, 1, 2).N; got != 1 {
				t.Errorf("never after a day: counter %d, want 1", got)
			}
			if got := mustCall2(t, regional, 1, 2).N; got != 3 {
				t.Errorf("regional after a day: counter %d, want 3", got)
			}
		})
	}
}

// TestFuncExplicit ports test_explicit_expire, test_explicit_set,
// test_explicit_get and test_explicit_refresh.
func TestFuncExplicit(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend+"/invalidate", func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			f := Cache2(r, funcTestGo(&counter))
			for i, want := range []funcTriple{{1, 1, 2}, {2, 3, 4}, {1, 1, 2}} {
				if got := mustCall2(t, f, want.A, want.B); got != want {
					t.Fatalf("call %d = %v, want %v", i, got, want)
				}
			}
			if err := f.Invalidate(ctx, 1, 2); err != nil {
				t.Fatal(err)
			}
			if got, want := mustCall2(t, f, 1, 2), (funcTriple{3, 1, 2}); got != want {
				t.Errorf("after Invalidate = %v, want %v", got, want)
			}
			if got, want := mustCall2(t, f, 3, 4), (funcTriple{2, 3, 4}); got != want {
				t.Errorf("other key after Invalidate = %v, want %v", got, want)
			}
		})
		t.Run(backend+"/set", func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			f := Cache2(r, funcTestGo(&counter))
			mustCall2(t, f, 1, 2)
			mustCall2(t, f, 3, 4)
			if err := f.Set(ctx, funcTriple{N: 5}, 1, 2); err != nil {
				t.Fatal(err)
			}
			if got, want := mustCall2(t, f, 1, 2), (funcTriple{N: 5}); got != want {
				t.Errorf("after Set = %v, want %v", got, want)
			}
			if err := f.Invalidate(ctx, 1, 2); err != nil {
				t.Fatal(err)
			}
			if got, want := mustCall2(t, f, 1, 2), (funcTriple{3, 1, 2}); got != want {
				t.Errorf("after Invalidate = %v, want %v", got, want)
			}
			if err := f.Set(ctx, funcTriple{}, 1, 3); err != nil {
				t.Fatal(err)
			}
			if got := mustCall2(t, f, 1, 3); got != (funcTriple{}) {
				t.Errorf("Set of the zero value, then Call = %v, want the zero value", got)
			}
			if counter.Load() != 3 {
				t.Errorf("function ran %d times, want 3", counter.Load())
			}
		})
		t.Run(backend+"/get", func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			f := Cache2(r, funcTestGo(&counter))
			v := mustCall2(t, f, 1, 2)
			got, ok, err := f.Get(ctx, 1, 2)
			if err != nil || !ok || got != v {
				t.Errorf("Get(1, 2) = %v, %v, %v; want %v, true, nil", got, ok, err, v)
			}
			if got, ok, err := f.Get(ctx, 2, 1); err != nil || ok || got != (funcTriple{}) {
				t.Errorf("Get(2, 1) before a call = %v, %v, %v; want the zero value, false, nil", got, ok, err)
			}
			v = mustCall2(t, f, 2, 1)
			if got, ok, err := f.Get(ctx, 2, 1); err != nil || !ok || got != v {
				t.Errorf("Get(2, 1) after a call = %v, %v, %v; want %v", got, ok, err, v)
			}
			if counter.Load() != 2 {
				t.Errorf("function ran %d times, want 2: Get must not call it", counter.Load())
			}
		})
		t.Run(backend+"/refresh", func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			f := Cache2(r, funcTestGo(&counter))
			if got, want := mustCall2(t, f, 1, 2), (funcTriple{1, 1, 2}); got != want {
				t.Fatalf("Call = %v, want %v", got, want)
			}
			for _, n := range []int{2, 3} {
				got, err := f.Refresh(ctx, 1, 2)
				if want := (funcTriple{n, 1, 2}); err != nil || got != want {
					t.Fatalf("Refresh = %v, %v; want %v", got, err, want)
				}
				if got, want := mustCall2(t, f, 1, 2), (funcTriple{n, 1, 2}); got != want {
					t.Fatalf("Call after Refresh = %v, want %v", got, want)
				}
			}
		})
	}
}

// TestFuncCacheArg ports CacheDecoratorTest.test_cache_arg and a longer
// sequence: generate(x, y) = next(counter) + x + y.
func TestFuncCacheArg(t *testing.T) {
	type step struct {
		invalidate bool
		x, y, want int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"test_cache_arg", []step{
			{false, 1, 2, 4}, {false, 2, 1, 5}, {false, 1, 2, 4},
			{true, 1, 2, 0}, {false, 1, 2, 6},
		}},
		{"invalidate missing keys first", []step{
			{true, 3, 4, 0}, {true, 5, 6, 0}, {true, 4, 3, 0},
			{false, 3, 4, 8}, {false, 5, 6, 13}, {false, 3, 4, 8}, {false, 4, 3, 10},
			{true, 4, 3, 0}, {false, 4, 3, 11}, {false, 3, 4, 8},
		}},
	}
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		for _, tt := range tests {
			t.Run(backend+"/"+tt.name, func(t *testing.T) {
				r, _ := newFuncTestRegion(t, backend, 0)
				var counter atomic.Int64
				f := Cache2(r, func(_ context.Context, x, y int) (int, error) {
					return int(counter.Add(1)) + x + y, nil
				})
				for i, s := range tt.steps {
					if s.invalidate {
						if err := f.Invalidate(ctx, s.x, s.y); err != nil {
							t.Fatal(err)
						}
						continue
					}
					if got := mustCall2(t, f, s.x, s.y); got != s.want {
						t.Fatalf("step %d: generate(%d, %d) = %d, want %d", i, s.x, s.y, got, s.want)
					}
				}
			})
		}
	}
}

// TestFuncReentrant ports test_reentrant_call: a cached function whose
// creator calls another cached function of the same region.
func TestFuncReentrant(t *testing.T) {
	r, _ := newFuncTestRegion(t, memory.Name, 0)
	var counter atomic.Int64
	foo := Cache2(r, func(_ context.Context, x, y int) (int, error) {
		return int(counter.Add(1)) + x + y, nil
	}, Namespace("foo"))
	bar := Cache2(r, func(ctx context.Context, x, y int) (int, error) {
		return foo.Call(ctx, x, y)
	}, Namespace("bar"))
	if got := mustCall2(t, bar, 1, 2); got != 4 {
		t.Errorf("bar(1, 2) = %d, want 4", got)
	}
	if got := mustCall2(t, foo, 1, 2); got != 4 {
		t.Errorf("foo(1, 2) = %d, want 4 (cached by bar's call)", got)
	}
	if counter.Load() != 1 {
		t.Errorf("foo ran %d times, want 1", counter.Load())
	}
}

// TestFuncArities covers Cache0 … Cache3: keys, Call, Set, Get, Refresh,
// Invalidate.
func TestFuncArities(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var n atomic.Int64
			f0 := Cache0(r, func(context.Context) (string, error) { return fmt.Sprint("zero", n.Add(1)), nil }, FuncName("p", "f0"))
			f1 := Cache1(r, func(_ context.Context, a string) (string, error) { return fmt.Sprint(a, n.Add(1)), nil }, FuncName("p", "f1"))
			f3 := Cache3(r, func(_ context.Context, a int, b bool, c string) (string, error) {
				return fmt.Sprintf("%d %t %s%d", a, b, c, n.Add(1)), nil
			}, FuncName("p", "f3"), Namespace("ns"))
			if got, want := mustKey(f0.Key()), "p:f0|"; got != want {
				t.Errorf("f0.Key() = %q, want %q", got, want)
			}
			if got, want := mustKey(f1.Key("a b")), "p:f1|a b"; got != want {
				t.Errorf("f1.Key = %q, want %q", got, want)
			}
			if got, want := mustKey(f3.Key(-1, true, "x")), "p:f3|ns|-1 True x"; got != want {
				t.Errorf("f3.Key = %q, want %q", got, want)
			}
			call := func(name string, f func() (string, error), want string) {
				t.Helper()
				got, err := f()
				if err != nil || got != want {
					t.Errorf("%s = %q, %v; want %q", name, got, err, want)
				}
			}
			call("f0", func() (string, error) { return f0.Call(ctx) }, "zero1")
			call("f0 again", func() (string, error) { return f0.Call(ctx) }, "zero1")
			call("f1", func() (string, error) { return f1.Call(ctx, "a") }, "a2")
			call("f3", func() (string, error) { return f3.Call(ctx, 1, false, "c") }, "1 false c3")
			call("f3 again", func() (string, error) { return f3.Call(ctx, 1, false, "c") }, "1 false c3")
			call("f0.Refresh", func() (string, error) { return f0.Refresh(ctx) }, "zero4")
			call("f0 after Refresh", func() (string, error) { return f0.Call(ctx) }, "zero4")
			if err := f3.Set(ctx, "set", 1, false, "c"); err != nil {
				t.Fatal(err)
			}
			call("f3 after Set", func() (string, error) { return f3.Call(ctx, 1, false, "c") }, "set")
			if v, ok, err := f3.Get(ctx, 1, false, "c"); err != nil || !ok || v != "set" {
				t.Errorf("f3.Get = %q, %v, %v", v, ok, err)
			}
			call("f3.Refresh", func() (string, error) { return f3.Refresh(ctx, 1, false, "c") }, "1 false c5")
			if err := f0.Invalidate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := f0.Get(ctx); err != nil || ok {
				t.Errorf("f0.Get after Invalidate = %v, %v", ok, err)
			}
			call("f0 after Invalidate", func() (string, error) { return f0.Call(ctx) }, "zero6")
			if err := f0.Set(ctx, "s0"); err != nil {
				t.Fatal(err)
			}
			call("f0 after Set", func() (string, error) { return f0.Call(ctx) }, "s0")
			if err := f1.Set(ctx, "s1", "a"); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := f1.Get(ctx, "a"); err != nil || !ok || v != "s1" {
				t.Errorf("f1.Get = %q, %v, %v", v, ok, err)
			}
			call("f1.Refresh", func() (string, error) { return f1.Refresh(ctx, "a") }, "a7")
			if err := f1.Invalidate(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			call("f1 after Invalidate", func() (string, error) { return f1.Call(ctx, "a") }, "a8")
			if err := f3.Invalidate(ctx, 1, false, "c"); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := f3.Get(ctx, 1, false, "c"); ok {
				t.Error("f3.Get after Invalidate found a value")
			}
		})
	}
}

// TestFuncKeyGenerator ports test_decorator_key_generator: a generator,
// given to the region, keyed on the first argument only.
func TestFuncKeyGenerator(t *testing.T) {
	var infos []FuncInfo
	firstArg := func(fn FuncInfo) func(args ...any) (string, error) {
		infos = append(infos, fn)
		return func(args ...any) (string, error) {
			s, err := fn.ToStr(args[0])
			return fn.Name + "_" + s, err
		}
	}
	r, clk := newFuncTestRegion(t, memory.Name, 250*time.Millisecond, WithKeyGenerator(firstArg))
	var counter atomic.Int64
	f := Cache2(r, funcTestGo(&counter), FuncName("tests", "go"), Namespace("ns"), ArgNames("a", "b"))
	if len(infos) != 1 {
		t.Fatalf("key generator called %d times for one function, want 1", len(infos))
	}
	info := infos[0]
	if info.Package != "tests" || info.Name != "go" || info.Namespace != "ns" || !info.HasNamespace ||
		!slices.Equal(info.ArgNames, []string{"a", "b"}) || info.ToStr == nil {
		t.Errorf("FuncInfo = %+v", info)
	}
	if got := mustKey(f.Key(1, 3)); got != "go_1" {
		t.Errorf("Key(1, 3) = %q, want go_1", got)
	}
	if got, want := mustCall2(t, f, 1, 2), (funcTriple{1, 1, 2}); got != want {
		t.Errorf("go(1, 2) = %v, want %v", got, want)
	}
	if got, want := mustCall2(t, f, 1, 3), (funcTriple{1, 1, 2}); got != want {
		t.Errorf("go(1, 3) = %v, want %v: the key ignores the second argument", got, want)
	}
	clk.Advance(300 * time.Millisecond)
	if got, want := mustCall2(t, f, 1, 3), (funcTriple{2, 1, 3}); got != want {
		t.Errorf("go(1, 3) after expiry = %v, want %v", got, want)
	}
	// A custom ToStr reaches the generator.
	quoted := Cache1(r, func(context.Context, string) (int, error) { return 0, nil },
		FuncName("tests", "q"), ToStrFunc(func(v any) (string, error) {
			s, err := ToStr(v)
			return strconv.Quote(s), err
		}))
	if got, want := mustKey(quoted.Key("x")), `q_"x"`; got != want {
		t.Errorf("Key with ToStrFunc = %q, want %q", got, want)
	}
}

// TestFuncToStr: ToStrFunc replaces ToStr in keys.
func TestFuncToStr(t *testing.T) {
	r := NewRegion()
	repr := func(v any) (string, error) { return fmt.Sprintf("%#v", v), nil }
	h := Cache2(r, func(context.Context, string, any) (int, error) { return 0, nil }, FuncName("mod", "h"), ToStrFunc(repr))
	if got, want := mustKey(h.Key("x", nil)), `mod:h|"x" <nil>`; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	m := CacheMulti(r, func(context.Context, []string) (map[string]int, error) { return nil, nil }, FuncName("mod", "m"), ToStrFunc(repr))
	if got, want := mustKey(m.Keys("x", "y")), []string{`mod:m|"x"`, `mod:m|"y"`}; !slices.Equal(got, want) {
		t.Errorf("Keys = %q, want %q", got, want)
	}
	// ToStr given explicitly is the default, with the same keys.
	d := Cache1(r, func(context.Context, int) (int, error) { return 0, nil }, FuncName("mod", "d"), ToStrFunc(ToStr))
	if got, want := mustKey(d.Key(12345)), "mod:d|12345"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	if d.c.fast {
		t.Error("a function with ToStrFunc took the fast key path")
	}
}

type funcTestStringer struct{ id int }

func (s funcTestStringer) String() string { return "S#" + strconv.Itoa(s.id) }

type funcTestNamedInt int

// TestFuncFastKeyMatchesGenerator checks that the keys built without
// boxing are FunctionKeyGenerator's, for every kind of argument, with no
// namespace, an empty one and another.
func TestFuncFastKeyMatchesGenerator(t *testing.T) {
	r := NewRegion()
	longName := strings.Repeat("VeryLongFunctionName", 8)
	namespaces := []struct {
		name string
		opts []FuncOption
		info func(FuncInfo) FuncInfo
	}{
		{"no namespace", nil, func(i FuncInfo) FuncInfo { return i }},
		{"empty namespace", []FuncOption{Namespace("")}, func(i FuncInfo) FuncInfo { i.HasNamespace = true; return i }},
		{"namespace", []FuncOption{Namespace("ns")}, func(i FuncInfo) FuncInfo { i.Namespace, i.HasNamespace = "ns", true; return i }},
	}
	for _, base := range []FuncInfo{{Package: "p", Name: "f"}, {Package: "example.com/x", Name: longName}} {
		for _, ns := range namespaces {
			t.Run(base.Name[:1]+"/"+ns.name, func(t *testing.T) {
				gen := FunctionKeyGenerator(ns.info(base))
				opts := append([]FuncOption{FuncName(base.Package, base.Name)}, ns.opts...)
				f1 := Cache1(r, func(context.Context, any) (int, error) { return 0, nil }, opts...)
				if !f1.c.fast {
					t.Fatal("default key generator did not take the fast path")
				}
				values := []any{"x", "", "a b", "m\xe9il dr\xf4le", "méil", 0, 7, -7, 99, 100, 12345, 1 << 62, -1 << 63,
					int8(-3), int16(300), int32(-70000), int64(1) << 40, uint(5), uint8(255), uint16(65535),
					uint32(1) << 31, ^uint64(0), true, false, 3.5, 2.0, 1e21, 1e16, float32(0.1), nil,
					funcTestStringer{4}, funcTestNamedInt(9), struct{ A, B int }{1, 2}, (*int)(nil), (*url.URL)(nil),
					[]int{1, 2}, []byte("ab"), map[string]int{"a": 1}, strings.Repeat("z", 300)}
				for _, v := range values {
					if got, want := mustKey(f1.Key(v)), mustKey(gen(v)); got != want {
						t.Errorf("Key(%#v) = %q, want %q", v, got, want)
					}
				}
				f2 := Cache2(r, func(context.Context, string, int64) (int, error) { return 0, nil }, opts...)
				if got, want := mustKey(f2.Key("a", -5)), mustKey(gen("a", int64(-5))); got != want {
					t.Errorf("Func2.Key = %q, want %q", got, want)
				}
				f3 := Cache3(r, func(context.Context, uint8, bool, funcTestNamedInt) (int, error) { return 0, nil }, opts...)
				if got, want := mustKey(f3.Key(3, true, 4)), mustKey(gen(uint8(3), true, funcTestNamedInt(4))); got != want {
					t.Errorf("Func3.Key = %q, want %q", got, want)
				}
				f3s := Cache3(r, func(context.Context, float64, []string, *url.URL) (int, error) { return 0, nil }, opts...)
				if got, want := mustKey(f3s.Key(2, []string{"a"}, nil)), mustKey(gen(2.0, []string{"a"}, (*url.URL)(nil))); got != want {
					t.Errorf("Func3.Key of a float, a slice and a nil pointer = %q, want %q", got, want)
				}
				f0 := Cache0(r, func(context.Context) (int, error) { return 0, nil }, opts...)
				if got, want := mustKey(f0.Key()), mustKey(gen()); got != want {
					t.Errorf("Func0.Key = %q, want %q", got, want)
				}
				m := CacheMulti(r, func(context.Context, []any) (map[any]int, error) { return nil, nil }, opts...)
				if got, want := mustKey(m.Keys("a", 2.0, nil)), mustKey(FunctionMultiKeyGenerator(ns.info(base))("a", 2.0, nil)); !slices.Equal(got, want) {
					t.Errorf("MultiFunc.Keys = %q, want %q", got, want)
				}
			})
		}
	}
}

type funcTestStore struct{ prefix string }

func (s *funcTestStore) Load(_ context.Context, id int) (string, error) {
	return s.prefix + strconv.Itoa(id), nil
}

func (s funcTestStore) Name(_ context.Context, id int) (string, error) { return s.prefix, nil }

func funcTestLoadUser(_ context.Context, id int) (string, error) {
	return "user" + strconv.Itoa(id), nil
}

func funcTestGeneric[T any](_ context.Context, v T) (T, error) { return v, nil }

type funcTestBox[T any] struct{ v T }

func (b *funcTestBox[T]) Get(context.Context, int) (T, error) { return b.v, nil }

// TestFuncInfoOf names real functions, methods and closures.
func TestFuncInfoOf(t *testing.T) {
	closure := func(context.Context, int) (string, error) { return "", nil }
	s := &funcTestStore{}
	tests := []struct {
		name     string
		fn       any
		pkg, fun string
	}{
		{"function", funcTestLoadUser, funcTestPkg, "funcTestLoadUser"},
		{"pointer method value", s.Load, funcTestPkg, "(*funcTestStore).Load"},
		{"value method value", funcTestStore{}.Name, funcTestPkg, "funcTestStore.Name"},
		{"method expression", (*funcTestStore).Load, funcTestPkg, "(*funcTestStore).Load"},
		{"closure", closure, funcTestPkg, "TestFuncInfoOf.func1"},
		{"generic function", funcTestGeneric[int], funcTestPkg, "funcTestGeneric"},
		{"generic method value", (&funcTestBox[string]{}).Get, funcTestPkg, "(*funcTestBox).Get"},
		{"standard library", strconv.Itoa, "strconv", "Itoa"},
		{"nested standard package", http.StatusText, "net/http", "StatusText"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := funcInfoOf(tt.fn)
			if got.Package != tt.pkg || got.Name != tt.fun {
				t.Errorf("funcInfoOf = %q, %q; want %q, %q", got.Package, got.Name, tt.pkg, tt.fun)
			}
		})
	}
	// Through the wrappers, into keys.
	r := NewRegion()
	if got, want := mustKey(Cache1(r, funcTestLoadUser).Key(42)), funcTestPkg+":funcTestLoadUser|42"; got != want {
		t.Errorf("function key = %q, want %q", got, want)
	}
	if got, want := mustKey(Cache1(r, s.Load, Namespace("K")).Key(1)), funcTestPkg+":(*funcTestStore).Load|K|1"; got != want {
		t.Errorf("method key = %q, want %q", got, want)
	}
	if got, want := mustKey(Cache1(r, closure).Key(7)), funcTestPkg+":TestFuncInfoOf.func1|7"; got != want {
		t.Errorf("closure key = %q, want %q", got, want)
	}
	if got, want := mustKey(Cache1(r, closure, FuncName("app", "load")).Key(7)), "app:load|7"; got != want {
		t.Errorf("FuncName key = %q, want %q", got, want)
	}
}

func TestFuncParseSymbol(t *testing.T) {
	tests := []struct{ sym, pkg, name string }{
		{"github.com/x/app/store.LoadUser", "github.com/x/app/store", "LoadUser"},
		{"github.com/x/app/store.(*T).M-fm", "github.com/x/app/store", "(*T).M"},
		{"github.com/x/app/store.T.M-fm", "github.com/x/app/store", "T.M"},
		{"github.com/x/app/store.(*T).M", "github.com/x/app/store", "(*T).M"},
		{"github.com/x/app.Outer.func1", "github.com/x/app", "Outer.func1"},
		{"github.com/x/app.Outer.func1.2", "github.com/x/app", "Outer.func1.2"},
		{"github.com/x/app.init.func3", "github.com/x/app", "init.func3"},
		{"example.com/a.b/c.F", "example.com/a.b/c", "F"},
		{"example.com/a.b/c.(*T).M-fm", "example.com/a.b/c", "(*T).M"},
		{"gopkg.in/yaml%2ev3.Marshal", "gopkg.in/yaml.v3", "Marshal"},
		{"example.com/g.Map[...]", "example.com/g", "Map"},
		{"example.com/g.(*List[...]).Push-fm", "example.com/g", "(*List).Push"},
		{"example.com/g.Map[go.shape.int,example.com/h.T]", "example.com/g", "Map"},
		{"main.main", "main", "main"},
		{"main.(*server).handle-fm", "main", "(*server).handle"},
		{"strconv.Itoa", "strconv", "Itoa"},
		{"noDot", "", "noDot"},
		{"100%.F", "100%", "F"},
	}
	for _, tt := range tests {
		got := parseFuncSymbol(tt.sym)
		if got.Package != tt.pkg || got.Name != tt.name {
			t.Errorf("parseFuncSymbol(%q) = %q, %q; want %q, %q", tt.sym, got.Package, got.Name, tt.pkg, tt.name)
		}
	}
}

// TestFuncMangler: the mangler sees Key's result; the backend holds the
// mangled key (test_sha1_key_mangler through a region; the SHA-1 mangler
// itself is pyconfig's, tested there).
func TestFuncMangler(t *testing.T) {
	ctx := context.Background()
	upper := func(k string) string { return "M:" + strings.ToUpper(k) }
	store := map[string]driver.CachedValue{}
	r, _ := newFuncTestRegionOn(t, &mapValues{m: store}, 0, WithKeyMangler(upper))
	var counter atomic.Int64
	f := Cache2(r, funcTestGo(&counter), FuncName("tests.cache.test_decorator", "one"))
	if got := mustKey(f.Key(1, 2)); got != "tests.cache.test_decorator:one|1 2" {
		t.Errorf("Key = %q: Key must not mangle", got)
	}
	mustCall2(t, f, 1, 2)
	mustCall2(t, f, 1, 2)
	if counter.Load() != 1 {
		t.Errorf("function ran %d times, want 1", counter.Load())
	}
	if got, want := funcTestKeysOf(store), []string{"M:TESTS.CACHE.TEST_DECORATOR:ONE|1 2"}; !slices.Equal(got, want) {
		t.Errorf("backend keys = %q, want %q", got, want)
	}
	if _, ok, err := f.Get(ctx, 1, 2); !ok || err != nil {
		t.Errorf("Get = %v, %v", ok, err)
	}
	if err := f.Invalidate(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if got := funcTestKeysOf(store); len(got) != 0 {
		t.Errorf("backend keys after Invalidate = %q", got)
	}
	m := CacheMulti(r, funcTestGenerate(&counter, nil), FuncName("tests", "multi"))
	if _, err := m.Call(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if got, want := funcTestKeysOf(store), []string{"M:TESTS:MULTI|1", "M:TESTS:MULTI|2"}; !slices.Equal(got, want) {
		t.Errorf("backend keys of the multi function = %q, want %q", got, want)
	}
	if err := m.Invalidate(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if got := funcTestKeysOf(store); len(got) != 0 {
		t.Errorf("backend keys after the multi Invalidate = %q", got)
	}
}

// TestFuncShouldCache: values refused by ShouldCache are returned, not
// stored, by Call and Refresh; Set stores them anyway.
func TestFuncShouldCache(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			f := Cache1(r, func(_ context.Context, x int) (int, error) {
				return int(counter.Add(1)) * x, nil
			}, ShouldCache(func(v any) bool { return v.(int)%2 == 0 }))
			for i, want := range []int{1, 2, 2} { // 1 is odd: not cached
				v, err := f.Call(ctx, 1)
				if err != nil || v != want {
					t.Fatalf("call %d = %d, %v; want %d", i, v, err, want)
				}
			}
			if v, err := f.Refresh(ctx, 1); err != nil || v != 3 {
				t.Fatalf("Refresh = %d, %v; want 3", v, err)
			}
			if v, _ := f.Call(ctx, 1); v != 2 {
				t.Errorf("Call after a refused Refresh = %d, want 2 (still cached)", v)
			}
			if err := f.Set(ctx, 5, 1); err != nil {
				t.Fatal(err)
			}
			if v, _ := f.Call(ctx, 1); v != 5 {
				t.Errorf("Call after Set(5) = %d, want 5", v)
			}
		})
	}
}

var errFuncTest = errors.New("backend down")

func TestFuncErrors(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var calls atomic.Int64
			f := Cache1(r, func(_ context.Context, x int) (int, error) {
				calls.Add(1)
				return 0, errFuncTest
			})
			for range 2 {
				_, err := f.Call(ctx, 1)
				var de *Error
				if !errors.Is(err, errFuncTest) || !errors.As(err, &de) || !strings.HasPrefix(err.Error(), "dogpile: ") {
					t.Fatalf("Call error = %v, want a *dogpile.Error wrapping %v", err, errFuncTest)
				}
				if !slices.Equal(de.Keys, []string{mustKey(f.Key(1))}) || !strings.Contains(err.Error(), "creator: "+errFuncTest.Error()) {
					t.Errorf("Call error %q: keys %q, want the function's key and the creator's error", err, de.Keys)
				}
			}
			if calls.Load() != 2 {
				t.Errorf("function ran %d times, want 2: errors are not cached", calls.Load())
			}
			if _, err := f.Refresh(ctx, 1); !errors.Is(err, errFuncTest) || !strings.HasPrefix(err.Error(), "dogpile: ") {
				t.Errorf("Refresh error = %v", err)
			}
			if _, ok, err := f.Get(ctx, 1); ok || err != nil {
				t.Errorf("Get after errors = %v, %v", ok, err)
			}
		})
	}
}

// TestFuncNotConfigured: cached functions are made before the region is
// configured, fail with ErrNotConfigured until it is, then work.
func TestFuncNotConfigured(t *testing.T) {
	ctx := context.Background()
	r := NewRegion(WithName("later"), WithLogger(slog.New(slog.DiscardHandler)))
	var calls atomic.Int64
	f := Cache1(r, func(_ context.Context, x int) (int, error) { calls.Add(1); return x * 10, nil })
	m := CacheMulti(r, func(_ context.Context, xs []int) (map[int]int, error) {
		calls.Add(1)
		out := make(map[int]int, len(xs))
		for _, x := range xs {
			out[x] = x * 10
		}
		return out, nil
	})
	checks := map[string]error{}
	_, checks["Call"] = f.Call(ctx, 1)
	_, _, checks["Get"] = f.Get(ctx, 1)
	checks["Set"] = f.Set(ctx, 1, 1)
	checks["Invalidate"] = f.Invalidate(ctx, 1)
	_, checks["Refresh"] = f.Refresh(ctx, 1)
	_, checks["multi Call"] = m.Call(ctx, 1, 2)
	_, checks["multi Get"] = m.Get(ctx, 1)
	checks["multi Set"] = m.Set(ctx, map[int]int{1: 1})
	checks["multi Invalidate"] = m.Invalidate(ctx, 1)
	_, checks["multi Refresh"] = m.Refresh(ctx, 1)
	for name, err := range checks {
		if !errors.Is(err, ErrNotConfigured) {
			t.Errorf("%s before Configure: %v, want ErrNotConfigured", name, err)
		}
		var de *Error
		if errors.As(err, &de) && de.Region != "later" {
			t.Errorf("%s before Configure: region %q, want later", name, de.Region)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("functions ran %d times before Configure", calls.Load())
	}
	if err := r.Configure(memory.Name, Config{}); err != nil {
		t.Fatal(err)
	}
	if v, err := f.Call(ctx, 2); err != nil || v != 20 {
		t.Errorf("Call after Configure = %d, %v", v, err)
	}
	if v, err := m.Call(ctx, 1, 2); err != nil || !maps.Equal(v, map[int]int{1: 10, 2: 20}) {
		t.Errorf("multi Call after Configure = %v, %v", v, err)
	}
}

// TestFuncTypeMismatch: a value of another type under the function's key
// is an error wrapping ErrTypeMismatch, never a zero value.
func TestFuncTypeMismatch(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			f := Cache1(r, func(_ context.Context, x int) (int, error) { return x, nil })
			m := CacheMulti(r, func(_ context.Context, xs []int) (map[int]int, error) {
				out := map[int]int{}
				for _, x := range xs {
					out[x] = x
				}
				return out, nil
			}, Namespace("m"))
			if err := r.Set(ctx, mustKey(f.Key(1)), "a string"); err != nil {
				t.Fatal(err)
			}
			if err := r.Set(ctx, mustKey(m.Keys(1))[0], "a string"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Call(ctx, 1); !errors.Is(err, ErrTypeMismatch) {
				t.Errorf("Call: %v, want ErrTypeMismatch", err)
			}
			if _, _, err := f.Get(ctx, 1); !errors.Is(err, ErrTypeMismatch) {
				t.Errorf("Get: %v, want ErrTypeMismatch", err)
			}
			if _, err := m.Call(ctx, 1, 2); !errors.Is(err, ErrTypeMismatch) {
				t.Errorf("multi Call: %v, want ErrTypeMismatch", err)
			}
			if _, err := m.Get(ctx, 1); !errors.Is(err, ErrTypeMismatch) {
				t.Errorf("multi Get: %v, want ErrTypeMismatch", err)
			}
		})
	}
}

type funcTestUser struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs,omitempty"`
	Boss  *funcTestUser     `json:"boss,omitempty"`
}

// TestFuncStructThroughCodec: on memory_pickle, values are JSON in the
// wire format and come back as the function's struct type.
func TestFuncStructThroughCodec(t *testing.T) {
	ctx := context.Background()
	store := map[string][]byte{}
	r, _ := newFuncTestRegionOn(t, &mapBytes{m: store}, 0)
	var calls atomic.Int64
	load := func(_ context.Context, id int) (funcTestUser, error) {
		calls.Add(1)
		return funcTestUser{ID: id, Name: "u" + strconv.Itoa(id), Tags: []string{"a", "b"},
			Attrs: map[string]string{"k": "v"}, Boss: &funcTestUser{ID: 1, Name: "root"}}, nil
	}
	f := Cache1(r, load, FuncName("app", "load"))
	want, _ := load(ctx, 7)
	calls.Store(0)
	for i := range 3 {
		got, err := f.Call(ctx, 7)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("call %d = %+v, %v; want %+v", i, got, err, want)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("function ran %d times, want 1", calls.Load())
	}
	if got, ok, err := f.Get(ctx, 7); err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Get = %+v, %v, %v", got, ok, err)
	}
	raw, ok := store["app:load|7"]
	if !ok {
		t.Fatalf("backend keys %q lack app:load|7", slices.Sorted(maps.Keys(store)))
	}
	md, payload, err := driver.DecodeEntry(raw)
	if err != nil || md.Version != driver.ValueVersion {
		t.Fatalf("DecodeEntry: %+v, %v", md, err)
	}
	if want := `{"id":7,"name":"u7","tags":["a","b"],"attrs":{"k":"v"},"boss":{"id":1,"name":"root","tags":null}}`; string(payload) != want {
		t.Errorf("payload = %s, want %s", payload, want)
	}
	// A pointer result decodes too.
	p := Cache1(r, func(_ context.Context, id int) (*funcTestUser, error) { return &funcTestUser{ID: id}, nil }, FuncName("app", "ptr"))
	for range 2 {
		if got, err := p.Call(ctx, 3); err != nil || got == nil || got.ID != 3 {
			t.Fatalf("pointer Call = %+v, %v", got, err)
		}
	}
}

// TestFuncObserved covers the path taken when the region has an observer:
// every call is reported, hits included.
func TestFuncObserved(t *testing.T) {
	var mu sync.Mutex
	var results []string
	obs := observe.Func(func(_ context.Context, e observe.Event) {
		if e.Op == observe.OpGetOrCreate {
			mu.Lock()
			results = append(results, e.Results[0].String())
			mu.Unlock()
		}
	})
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			mu.Lock()
			results = nil
			mu.Unlock()
			r, clk := newFuncTestRegion(t, backend, time.Minute, WithObserver(obs))
			var counter atomic.Int64
			f := Cache2(r, funcTestGo(&counter))
			for i, want := range []int{1, 1, 2} {
				if i == 2 {
					clk.Advance(2 * time.Minute)
				}
				if got := mustCall2(t, f, 1, 2).N; got != want {
					t.Fatalf("call %d: counter %d, want %d", i, got, want)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if want := []string{"created", "hit", "created"}; !slices.Equal(results, want) {
				t.Errorf("observed %q, want %q", results, want)
			}
		})
	}
}

// TestFuncConcurrentMissOnce: 100 callers of one missing key; the function
// runs once and every caller gets its value.
func TestFuncConcurrentMissOnce(t *testing.T) {
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			const n = 100
			r, _ := newFuncTestRegion(t, backend, 0)
			var calls atomic.Int64
			entered := make(chan struct{})
			release := make(chan struct{})
			f := Cache1(r, func(_ context.Context, x int) (string, error) {
				if calls.Add(1) == 1 {
					close(entered)
				}
				<-release
				return "v" + strconv.Itoa(x), nil
			})
			var done sync.WaitGroup
			results := make([]string, n)
			errs := make([]error, n)
			for i := range n {
				done.Go(func() {
					results[i], errs[i] = f.Call(context.Background(), 42)
				})
			}
			// The first caller is inside the function; the others
			// either wait for it or, arriving late, hit its value.
			<-entered
			if locked, err := r.KeyIsLocked(context.Background(), mustKey(f.Key(42))); err != nil || !locked {
				t.Errorf("KeyIsLocked while the function runs = %v, %v; want true", locked, err)
			}
			close(release)
			done.Wait()
			if calls.Load() != 1 {
				t.Errorf("function ran %d times, want 1", calls.Load())
			}
			for i := range n {
				if errs[i] != nil || results[i] != "v42" {
					t.Fatalf("caller %d: %q, %v", i, results[i], errs[i])
				}
			}
		})
	}
}

// TestFuncHitAllocs: a Func1 hit with one int argument on the memory
// backend allocates only its key.
func TestFuncHitAllocs(t *testing.T) {
	r, _ := newFuncTestRegion(t, memory.Name, time.Hour)
	f := Cache1(r, func(_ context.Context, x int) (int, error) { return x, nil })
	ctx := context.Background()
	const arg = 123456 // beyond the small values Go boxes without allocating
	if _, err := f.Call(ctx, arg); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if v, err := f.Call(ctx, arg); err != nil || v != arg {
			t.Fatal(v, err)
		}
	})
	t.Logf("Func1 hit: %v allocs", allocs)
	if allocs > 1 {
		t.Errorf("Func1 hit allocates %v times, want ≤ 1 (its key)", allocs)
	}
	// With call options (resolved once) the hit allocates the same.
	g := Cache1(r, func(_ context.Context, x int) (int, error) { return x, nil },
		Namespace("opts"), Expiration(time.Minute), ShouldCache(func(any) bool { return true }))
	if _, err := g.Call(ctx, arg); err != nil {
		t.Fatal(err)
	}
	withOpts := testing.AllocsPerRun(200, func() {
		if _, err := g.Call(ctx, arg); err != nil {
			t.Fatal(err)
		}
	})
	if withOpts > allocs {
		t.Errorf("Func1 hit with options allocates %v times, without %v", withOpts, allocs)
	}
}

// funcTestQuery is a struct argument: its key is Python dataclass-like.
type funcTestQuery struct {
	Table string
	Limit int
	Desc  bool
	Tags  []string
}

// TestFunctionStructArgument: a struct argument's key is
// Name(Field=value, ...), with every field, so that two structs differing
// in one field have different keys and values.
func TestFunctionStructArgument(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var calls atomic.Int64
			f := Cache1(r, func(_ context.Context, q funcTestQuery) (string, error) {
				return fmt.Sprintf("%s/%d/%d", q.Table, q.Limit, calls.Add(1)), nil
			}, FuncName("app", "query"))
			q := funcTestQuery{Table: "users", Limit: 10, Desc: true, Tags: []string{"a"}}
			if got, want := mustKey(f.Key(q)), "app:query|funcTestQuery(Table='users', Limit=10, Desc=True, Tags=['a'])"; got != want {
				t.Errorf("Key = %q, want %q", got, want)
			}
			variants := []funcTestQuery{q, q, q, q}
			variants[0].Table = "groups"
			variants[1].Limit = 11
			variants[2].Desc = false
			variants[3].Tags = []string{"b"}
			seen := map[string]bool{mustKey(f.Key(q)): true}
			for _, v := range variants {
				k := mustKey(f.Key(v))
				if seen[k] {
					t.Errorf("Key(%+v) = %q collides", v, k)
				}
				seen[k] = true
			}
			first, err := f.Call(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := f.Call(ctx, q); err != nil || again != first {
				t.Errorf("second Call = %q, %v; want the cached %q", again, err, first)
			}
			other, err := f.Call(ctx, variants[1])
			if err != nil || other == first || calls.Load() != 2 {
				t.Errorf("Call of a struct differing in one field = %q, %v (calls %d); want a value of its own", other, err, calls.Load())
			}
			// A pointer to the struct has the struct's key.
			p := Cache1(r, func(_ context.Context, q *funcTestQuery) (string, error) { return "", nil }, FuncName("app", "query"))
			if got, want := mustKey(p.Key(&q)), mustKey(f.Key(q)); got != want {
				t.Errorf("Key(&q) = %q, want %q", got, want)
			}
		})
	}
}

// funcTestInvalid is what every call of a cached function must return
// when the function could not be made: an *Error wrapping
// ErrInvalidArgument, without calling the function.
func funcTestInvalid(t *testing.T, what string, err error) {
	t.Helper()
	var de *Error
	if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &de) {
		t.Errorf("%s: err = %v, want a *dogpile.Error wrapping ErrInvalidArgument", what, err)
	}
}

// TestFuncInvalidArguments: a nil region, a nil function, ArgNames of the
// wrong length, ToStrFunc(nil) and a nil option make no cached function
// panic; every call returns an error wrapping ErrInvalidArgument and the
// function never runs.
func TestFuncInvalidArguments(t *testing.T) {
	ctx := context.Background()
	r, _ := newFuncTestRegion(t, memory.Name, 0)
	var calls atomic.Int64
	fn0 := func(context.Context) (int, error) { calls.Add(1); return 0, nil }
	fn1 := func(context.Context, int) (int, error) { calls.Add(1); return 0, nil }
	fn2 := func(context.Context, int, int) (int, error) { calls.Add(1); return 0, nil }
	fn3 := func(context.Context, int, int, int) (int, error) { calls.Add(1); return 0, nil }
	fnm := func(context.Context, []int) (map[int]int, error) { calls.Add(1); return nil, nil }
	cases := []struct {
		name string
		r    *Region
		opts []FuncOption
		nil0 bool // the function is nil
	}{
		{"nil region", nil, nil, false},
		{"nil function", r, nil, true},
		{"nil region and function", nil, nil, true},
		{"ToStrFunc(nil)", r, []FuncOption{ToStrFunc(nil)}, false},
		{"nil FuncOption", r, []FuncOption{nil}, false},
		{"invalid CallOption", r, []FuncOption{Expiration(0)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var (
				f0 *Func0[int]
				f1 *Func1[int, int]
				f2 *Func2[int, int, int]
				f3 *Func3[int, int, int, int]
				m  *MultiFunc[int, int]
			)
			if tc.nil0 {
				f0, f1 = Cache0[int](tc.r, nil, tc.opts...), Cache1[int, int](tc.r, nil, tc.opts...)
				f2, f3 = Cache2[int, int, int](tc.r, nil, tc.opts...), Cache3[int, int, int, int](tc.r, nil, tc.opts...)
				m = CacheMulti[int, int](tc.r, nil, tc.opts...)
			} else {
				f0, f1 = Cache0(tc.r, fn0, tc.opts...), Cache1(tc.r, fn1, tc.opts...)
				f2, f3 = Cache2(tc.r, fn2, tc.opts...), Cache3(tc.r, fn3, tc.opts...)
				m = CacheMulti(tc.r, fnm, tc.opts...)
			}
			funcTestAllFail(t, ctx, f0, f1, f2, f3, m)
		})
	}
	t.Run("ArgNames of the wrong length", func(t *testing.T) {
		funcTestAllFail(t, ctx,
			Cache0(r, fn0, ArgNames("a")),
			Cache1(r, fn1, ArgNames("a", "b")),
			Cache2(r, fn2, ArgNames("a", "b", "c")),
			Cache3(r, fn3, ArgNames("a")),
			nil)
		// The right number is accepted.
		right := Cache2(r, func(context.Context, int, int) (int, error) { return 7, nil }, ArgNames("a", "b"))
		if v, err := right.Call(ctx, 1, 2); err != nil || v != 7 {
			t.Errorf("ArgNames of the right length: %v, %v", v, err)
		}
	})
	if calls.Load() != 0 {
		t.Errorf("invalid cached functions ran %d times", calls.Load())
	}
}

// funcTestAllFail calls every method of each function and checks that all
// fail with ErrInvalidArgument; m may be nil.
func funcTestAllFail(t *testing.T, ctx context.Context, f0 *Func0[int], f1 *Func1[int, int], f2 *Func2[int, int, int], f3 *Func3[int, int, int, int], m *MultiFunc[int, int]) {
	t.Helper()
	_ = mustKey(f0.Key())
	_ = mustKey(f1.Key(1))
	_ = mustKey(f2.Key(1, 2))
	_ = mustKey(f3.Key(1, 2, 3))
	var err error
	_, err = f0.Call(ctx)
	funcTestInvalid(t, "Func0.Call", err)
	_, _, err = f0.Get(ctx)
	funcTestInvalid(t, "Func0.Get", err)
	funcTestInvalid(t, "Func0.Set", f0.Set(ctx, 1))
	funcTestInvalid(t, "Func0.Invalidate", f0.Invalidate(ctx))
	_, err = f0.Refresh(ctx)
	funcTestInvalid(t, "Func0.Refresh", err)
	_, err = f1.Call(ctx, 1)
	funcTestInvalid(t, "Func1.Call", err)
	_, _, err = f1.Get(ctx, 1)
	funcTestInvalid(t, "Func1.Get", err)
	funcTestInvalid(t, "Func1.Set", f1.Set(ctx, 1, 1))
	funcTestInvalid(t, "Func1.Invalidate", f1.Invalidate(ctx, 1))
	_, err = f1.Refresh(ctx, 1)
	funcTestInvalid(t, "Func1.Refresh", err)
	_, err = f2.Call(ctx, 1, 2)
	funcTestInvalid(t, "Func2.Call", err)
	_, _, err = f2.Get(ctx, 1, 2)
	funcTestInvalid(t, "Func2.Get", err)
	funcTestInvalid(t, "Func2.Set", f2.Set(ctx, 1, 1, 2))
	funcTestInvalid(t, "Func2.Invalidate", f2.Invalidate(ctx, 1, 2))
	_, err = f2.Refresh(ctx, 1, 2)
	funcTestInvalid(t, "Func2.Refresh", err)
	_, err = f3.Call(ctx, 1, 2, 3)
	funcTestInvalid(t, "Func3.Call", err)
	_, _, err = f3.Get(ctx, 1, 2, 3)
	funcTestInvalid(t, "Func3.Get", err)
	funcTestInvalid(t, "Func3.Set", f3.Set(ctx, 1, 1, 2, 3))
	funcTestInvalid(t, "Func3.Invalidate", f3.Invalidate(ctx, 1, 2, 3))
	_, err = f3.Refresh(ctx, 1, 2, 3)
	funcTestInvalid(t, "Func3.Refresh", err)
	if m == nil {
		return
	}
	_ = mustKey(m.Keys(1, 2))
	_, err = m.Call(ctx, 1, 2)
	funcTestInvalid(t, "MultiFunc.Call", err)
	_, err = m.Get(ctx, 1, 2)
	funcTestInvalid(t, "MultiFunc.Get", err)
	funcTestInvalid(t, "MultiFunc.Set", m.Set(ctx, map[int]int{1: 1}))
	funcTestInvalid(t, "MultiFunc.Invalidate", m.Invalidate(ctx, 1, 2))
	_, err = m.Refresh(ctx, 1, 2)
	funcTestInvalid(t, "MultiFunc.Refresh", err)
}

// funcTestMultiGo is DecoratorTest's multi go(*args): one counter value
// per call, "<n> <arg>" per argument.
func funcTestMultiGo(counter *atomic.Int64, seen *[][]int) func(context.Context, []int) (map[int]string, error) {
	return func(_ context.Context, args []int) (map[int]string, error) {
		if seen != nil {
			*seen = append(*seen, slices.Clone(args))
		}
		n := counter.Add(1)
		out := make(map[int]string, len(args))
		for _, a := range args {
			out[a] = fmt.Sprintf("%d %d", n, a)
		}
		return out, nil
	}
}

// funcTestGenerate is CacheDecoratorTest's multi generate(*args) with
// asdict=True: one counter value per argument, in order, leaving out the
// arguments in omit.
func funcTestGenerate(counter *atomic.Int64, seen *[][]int, omit ...int) func(context.Context, []int) (map[int]string, error) {
	return func(_ context.Context, args []int) (map[int]string, error) {
		if seen != nil {
			*seen = append(*seen, slices.Clone(args))
		}
		out := make(map[int]string, len(args))
		for _, a := range args {
			if !slices.Contains(omit, a) {
				out[a] = fmt.Sprintf("%d %d", a, counter.Add(1))
			}
		}
		return out, nil
	}
}

func mustMulti[A comparable, R any](t *testing.T, f *MultiFunc[A, R], args ...A) map[A]R {
	t.Helper()
	v, err := f.Call(context.Background(), args...)
	if err != nil {
		t.Fatalf("Call(%v): %v", args, err)
	}
	return v
}

// TestFuncMulti ports CacheDecoratorTest.test_multi, with the arguments
// reaching the function in the caller's order (dogpile sorts them by key).
func TestFuncMulti(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			var seen [][]int
			f := CacheMulti(r, funcTestGenerate(&counter, &seen))
			if got, want := mustMulti(t, f, 2, 8, 10), map[int]string{2: "2 1", 8: "8 2", 10: "10 3"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 8, 10) = %v, want %v", got, want)
			}
			if got, want := mustMulti(t, f, 2, 9, 10), map[int]string{2: "2 1", 9: "9 4", 10: "10 3"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 9, 10) = %v, want %v", got, want)
			}
			if err := f.Invalidate(ctx, 2); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMulti(t, f, 2, 7, 10), map[int]string{2: "2 5", 7: "7 6", 10: "10 3"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 7, 10) = %v, want %v", got, want)
			}
			if err := f.Set(ctx, map[int]string{7: "18", 10: "15"}); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMulti(t, f, 2, 7, 10), map[int]string{2: "2 5", 7: "18", 10: "15"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 7, 10) after Set = %v, want %v", got, want)
			}
			if want := [][]int{{2, 8, 10}, {9}, {2, 7}}; !reflect.DeepEqual(seen, want) {
				t.Errorf("function called with %v, want %v", seen, want)
			}
		})
	}
}

// TestFuncMultiAsDict ports test_multi_asdict, with Refresh and Get.
func TestFuncMultiAsDict(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			var seen [][]int
			f := CacheMulti(r, funcTestGenerate(&counter, &seen))
			steps := []struct {
				args []int
				want map[int]string
			}{
				{[]int{2, 8, 10}, map[int]string{2: "2 1", 8: "8 2", 10: "10 3"}},
				{[]int{2, 9, 10}, map[int]string{2: "2 1", 9: "9 4", 10: "10 3"}},
			}
			for _, s := range steps {
				if got := mustMulti(t, f, s.args...); !maps.Equal(got, s.want) {
					t.Fatalf("generate(%v) = %v, want %v", s.args, got, s.want)
				}
			}
			if err := f.Invalidate(ctx, 2); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMulti(t, f, 2, 7, 10), map[int]string{2: "2 5", 7: "7 6", 10: "10 3"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 7, 10) = %v, want %v", got, want)
			}
			if err := f.Set(ctx, map[int]string{7: "18", 10: "15"}); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMulti(t, f, 2, 7, 10), map[int]string{2: "2 5", 7: "18", 10: "15"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 7, 10) after Set = %v, want %v", got, want)
			}
			got, err := f.Refresh(ctx, 2, 7)
			if want := map[int]string{2: "2 7", 7: "7 8"}; err != nil || !maps.Equal(got, want) {
				t.Errorf("Refresh(2, 7) = %v, %v; want %v", got, err, want)
			}
			if got, want := mustMulti(t, f, 2, 7, 10), map[int]string{2: "2 7", 7: "7 8", 10: "15"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 7, 10) after Refresh = %v, want %v", got, want)
			}
			if got, err := f.Get(ctx, 2, 3, 10); err != nil || !maps.Equal(got, map[int]string{2: "2 7", 10: "15"}) {
				t.Errorf("Get(2, 3, 10) = %v, %v", got, err)
			}
			if want := [][]int{{2, 8, 10}, {9}, {2, 7}, {2, 7}}; !reflect.DeepEqual(seen, want) {
				t.Errorf("function called with %v, want %v", seen, want)
			}
		})
	}
}

// TestFuncMultiCallerOrder: missing arguments reach the function in the
// caller's order, without duplicates; the result has one entry per
// distinct argument.
func TestFuncMultiCallerOrder(t *testing.T) {
	r, _ := newFuncTestRegion(t, memory.Name, 0)
	var counter atomic.Int64
	var seen [][]int
	f := CacheMulti(r, funcTestGenerate(&counter, &seen))
	mustMulti(t, f, 5)
	got := mustMulti(t, f, 10, 2, 5, 10, 9, 2)
	if want := map[int]string{10: "10 2", 2: "2 3", 5: "5 1", 9: "9 4"}; !maps.Equal(got, want) {
		t.Errorf("Call = %v, want %v", got, want)
	}
	if want := [][]int{{5}, {10, 2, 9}}; !reflect.DeepEqual(seen, want) {
		t.Errorf("function called with %v, want %v", seen, want)
	}
	if got := mustMulti(t, f); got == nil || len(got) != 0 {
		t.Errorf("Call() = %#v, want an empty map", got)
	}
	if got, err := f.Refresh(context.Background()); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Refresh() = %#v, %v; want an empty map", got, err)
	}
	if len(seen) != 2 {
		t.Errorf("Call() or Refresh() without arguments ran the function")
	}
}

// TestFuncMultiDuplicates: duplicate arguments are created once, by every
// method.
func TestFuncMultiDuplicates(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			var seen [][]int
			f := CacheMulti(r, funcTestGenerate(&counter, &seen))
			if got, want := mustMulti(t, f, 3, 3, 3), map[int]string{3: "3 1"}; !maps.Equal(got, want) {
				t.Errorf("Call(3, 3, 3) = %v, want %v", got, want)
			}
			got, err := f.Refresh(ctx, 4, 3, 4)
			if want := map[int]string{4: "4 2", 3: "3 3"}; err != nil || !maps.Equal(got, want) {
				t.Errorf("Refresh(4, 3, 4) = %v, %v; want %v", got, err, want)
			}
			if got, err := f.Get(ctx, 4, 4, 3); err != nil || !maps.Equal(got, map[int]string{4: "4 2", 3: "3 3"}) {
				t.Errorf("Get(4, 4, 3) = %v, %v", got, err)
			}
			if err := f.Invalidate(ctx, 4, 4); err != nil {
				t.Fatal(err)
			}
			if got, err := f.Get(ctx, 4, 3); err != nil || !maps.Equal(got, map[int]string{3: "3 3"}) {
				t.Errorf("Get(4, 3) after Invalidate(4, 4) = %v, %v", got, err)
			}
			if want := [][]int{{3}, {4, 3}}; !reflect.DeepEqual(seen, want) {
				t.Errorf("function called with %v, want %v", seen, want)
			}
		})
	}
}

// TestFuncMultiExplicit ports test_explicit_get_multi,
// test_explicit_set_multi and test_explicit_refresh_multi.
func TestFuncMultiExplicit(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend+"/get", func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			f := CacheMulti(r, funcTestMultiGo(&counter, nil))
			if got, want := mustMulti(t, f, 1, 2), map[int]string{1: "1 1", 2: "1 2"}; !maps.Equal(got, want) {
				t.Errorf("go(1, 2) = %v, want %v", got, want)
			}
			if got, err := f.Get(ctx, 3, 1); err != nil || !maps.Equal(got, map[int]string{1: "1 1"}) {
				t.Errorf("Get(3, 1) = %v, %v", got, err)
			}
			if got, want := mustMulti(t, f, 3, 1), map[int]string{3: "2 3", 1: "1 1"}; !maps.Equal(got, want) {
				t.Errorf("go(3, 1) = %v, want %v", got, want)
			}
			if got, err := f.Get(ctx); err != nil || got == nil || len(got) != 0 {
				t.Errorf("Get() = %#v, %v; want an empty map", got, err)
			}
		})
		t.Run(backend+"/set", func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			f := CacheMulti(r, funcTestMultiGo(&counter, nil))
			if err := f.Set(ctx, map[int]string{1: "1 5", 2: "1 6"}); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMulti(t, f, 1, 2), map[int]string{1: "1 5", 2: "1 6"}; !maps.Equal(got, want) {
				t.Errorf("go(1, 2) = %v, want %v", got, want)
			}
			if err := f.Set(ctx, nil); err != nil {
				t.Errorf("Set(nil) = %v", err)
			}
			if counter.Load() != 0 {
				t.Error("the function ran")
			}
		})
		t.Run(backend+"/refresh", func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			var seen [][]int
			f := CacheMulti(r, funcTestMultiGo(&counter, &seen))
			mustMulti(t, f, 1, 2)
			got, err := f.Refresh(ctx, 1, 2, 1)
			if want := map[int]string{1: "2 1", 2: "2 2"}; err != nil || !maps.Equal(got, want) {
				t.Errorf("Refresh(1, 2, 1) = %v, %v; want %v", got, err, want)
			}
			if got, want := mustMulti(t, f, 1, 2), map[int]string{1: "2 1", 2: "2 2"}; !maps.Equal(got, want) {
				t.Errorf("go(1, 2) after Refresh = %v, want %v", got, want)
			}
			if want := [][]int{{1, 2}, {1, 2}}; !reflect.DeepEqual(seen, want) {
				t.Errorf("function called with %v, want %v", seen, want)
			}
		})
	}
}

// TestFuncMultiExpiration: the function's expiration applies per value.
func TestFuncMultiExpiration(t *testing.T) {
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, clk := newFuncTestRegion(t, backend, time.Hour)
			var counter atomic.Int64
			f := CacheMulti(r, funcTestMultiGo(&counter, nil), Expiration(time.Minute))
			mustMulti(t, f, 1)
			clk.Advance(40 * time.Second)
			mustMulti(t, f, 2)
			clk.Advance(40 * time.Second)
			if got, want := mustMulti(t, f, 1, 2), map[int]string{1: "3 1", 2: "2 2"}; !maps.Equal(got, want) {
				t.Errorf("go(1, 2) = %v, want %v: only 1 has expired", got, want)
			}
		})
	}
}

// TestFuncMultiKeyGenerator ports test_decorator_key_generator_multi: a
// generator returning the keys reversed; each key goes with the argument
// at its position, as dogpile's zip(keys, args).
func TestFuncMultiKeyGenerator(t *testing.T) {
	ctx := context.Background()
	reversed := func(fn FuncInfo) func(args ...any) ([]string, error) {
		gen := FunctionMultiKeyGenerator(fn)
		return func(args ...any) ([]string, error) {
			keys, err := gen(args...)
			slices.Reverse(keys)
			return keys, err
		}
	}
	r, _ := newFuncTestRegion(t, memory.Name, 0, WithMultiKeyGenerator(reversed))
	var counter atomic.Int64
	f := CacheMulti(r, funcTestMultiGo(&counter, nil), FuncName("m", "go"))
	if got, want := mustKey(f.Keys(1, 2)), []string{"m:go|2", "m:go|1"}; !slices.Equal(got, want) {
		t.Errorf("Keys(1, 2) = %q, want %q", got, want)
	}
	if got, want := mustMulti(t, f, 1, 2), map[int]string{1: "1 1", 2: "1 2"}; !maps.Equal(got, want) {
		t.Errorf("go(1, 2) = %v, want %v", got, want)
	}
	// The key of 3 is now m:go|1, which holds 2's value; 1's is m:go|3.
	if got, err := f.Get(ctx, 3, 1); err != nil || !maps.Equal(got, map[int]string{3: "1 2"}) {
		t.Errorf("Get(3, 1) = %v, %v; want {3: 1 2}", got, err)
	}
	if got, want := mustMulti(t, f, 3, 1), map[int]string{3: "1 2", 1: "2 1"}; !maps.Equal(got, want) {
		t.Errorf("go(3, 1) = %v, want %v", got, want)
	}
	// The single-key generator is not used for multi functions.
	if got, want := mustKey(Cache1(r, func(context.Context, int) (int, error) { return 0, nil }, FuncName("m", "one")).Key(1)), "m:one|1"; got != want {
		t.Errorf("Cache1 key = %q, want %q", got, want)
	}
}

func TestFuncMultiErrors(t *testing.T) {
	ctx := context.Background()
	r, _ := newFuncTestRegion(t, memory.Name, 0)
	failing := CacheMulti(r, func(context.Context, []int) (map[int]int, error) { return nil, errFuncTest }, Namespace("failing"))
	if _, err := failing.Call(ctx, 1); !errors.Is(err, errFuncTest) || !strings.HasPrefix(err.Error(), "dogpile: ") {
		t.Errorf("Call of a failing function: %v", err)
	}
	if _, err := failing.Refresh(ctx, 1); !errors.Is(err, errFuncTest) || !strings.HasPrefix(err.Error(), "dogpile: ") {
		t.Errorf("Refresh of a failing function: %v", err)
	}
	if got, err := failing.Get(ctx, 1); err != nil || len(got) != 0 {
		t.Errorf("a failed call stored values: %v, %v", got, err)
	}
	badGen := func(FuncInfo) func(args ...any) ([]string, error) {
		return func(args ...any) ([]string, error) { return []string{"one"}, nil }
	}
	rb, _ := newFuncTestRegion(t, memory.Name, 0, WithMultiKeyGenerator(badGen))
	var calls atomic.Int64
	bad := CacheMulti(rb, func(_ context.Context, args []int) (map[int]int, error) { calls.Add(1); return nil, nil })
	if got, err := bad.Keys(1, 2); got != nil || !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Keys with a bad key generator = %q, %v; want nil and ErrInvalidArgument", got, err)
	}
	_, err := bad.Call(ctx, 1, 2)
	funcTestInvalid(t, "Call with a bad key generator", err)
	_, err = bad.Get(ctx, 1, 2)
	funcTestInvalid(t, "Get with a bad key generator", err)
	funcTestInvalid(t, "Set with a bad key generator", bad.Set(ctx, map[int]int{1: 1, 2: 2}))
	funcTestInvalid(t, "Invalidate with a bad key generator", bad.Invalidate(ctx, 1, 2))
	_, err = bad.Refresh(ctx, 1, 2)
	funcTestInvalid(t, "Refresh with a bad key generator", err)
	if calls.Load() != 0 {
		t.Errorf("function ran %d times with a bad key generator", calls.Load())
	}
}

// TestFuncMultiNamespace ports test_multi_namespace: the backend keys.
func TestFuncMultiNamespace(t *testing.T) {
	store := map[string]driver.CachedValue{}
	r, _ := newFuncTestRegionOn(t, &mapValues{m: store}, 0)
	var counter atomic.Int64
	f := CacheMulti(r, funcTestGenerate(&counter, nil), Namespace("foo"), FuncName("tests.cache.test_decorator", "generate"))
	mustMulti(t, f, 2, 8, 10)
	mustMulti(t, f, 2, 9, 10)
	want := []string{
		"tests.cache.test_decorator:generate|foo|10",
		"tests.cache.test_decorator:generate|foo|2",
		"tests.cache.test_decorator:generate|foo|8",
		"tests.cache.test_decorator:generate|foo|9",
	}
	if got := funcTestKeysOf(store); !slices.Equal(got, want) {
		t.Errorf("backend keys = %q, want %q", got, want)
	}
}

// TestFuncMultiKeysMissing ports test_multi_asdict_keys_missing: an
// argument the function leaves out is neither cached nor returned, and is
// asked for again.
func TestFuncMultiKeysMissing(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			var seen [][]int
			f := CacheMulti(r, funcTestGenerate(&counter, &seen, 10))
			if got, want := mustMulti(t, f, 2, 8, 10), map[int]string{2: "2 1", 8: "8 2"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 8, 10) = %v, want %v", got, want)
			}
			if _, ok, err := Get[any](ctx, r, mustKey(f.Keys(10))[0]); ok || err != nil {
				t.Errorf("region Get(key of 10) = %v, %v; want no value", ok, err)
			}
			if got, want := mustMulti(t, f, 2, 8, 10), map[int]string{2: "2 1", 8: "8 2"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 8, 10) again = %v, want %v", got, want)
			}
			if err := f.Set(ctx, map[int]string{10: "some value"}); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMulti(t, f, 2, 8, 10), map[int]string{2: "2 1", 8: "8 2", 10: "some value"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 8, 10) after Set = %v, want %v", got, want)
			}
			if want := [][]int{{2, 8, 10}, {10}}; !reflect.DeepEqual(seen, want) {
				t.Errorf("function called with %v, want %v", seen, want)
			}
			got, err := f.Refresh(ctx, 10, 2)
			if want := map[int]string{2: "2 3"}; err != nil || !maps.Equal(got, want) {
				t.Errorf("Refresh(10, 2) = %v, %v; want %v", got, err, want)
			}
			if got, _ := f.Get(ctx, 10); got[10] != "some value" {
				t.Errorf("Refresh leaving 10 out replaced its value: %v", got)
			}
		})
	}
}

// TestFuncMultiExtraEntriesIgnored: entries of the function's map for
// arguments not asked for are neither cached nor returned.
func TestFuncMultiExtraEntriesIgnored(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			f := CacheMulti(r, func(_ context.Context, args []int) (map[int]string, error) {
				out := map[int]string{99: "extra"}
				for _, a := range args {
					out[a] = strconv.Itoa(a)
				}
				return out, nil
			})
			if got, want := mustMulti(t, f, 1), map[int]string{1: "1"}; !maps.Equal(got, want) {
				t.Errorf("Call(1) = %v, want %v", got, want)
			}
			if got, err := f.Refresh(ctx, 2); err != nil || !maps.Equal(got, map[int]string{2: "2"}) {
				t.Errorf("Refresh(2) = %v, %v", got, err)
			}
			if got, err := f.Get(ctx, 99); err != nil || len(got) != 0 {
				t.Errorf("Get(99) = %v, %v: an entry not asked for was cached", got, err)
			}
		})
	}
}

// TestFuncMultiShouldCache ports
// test_multi_asdict_keys_missing_existing_cache_fn: values refused by
// ShouldCache are regenerated on every call; omitted ones are never stored
// either.
func TestFuncMultiShouldCache(t *testing.T) {
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			var seen [][]int
			f := CacheMulti(r, funcTestGenerate(&counter, &seen, 10),
				ShouldCache(func(v any) bool { return !strings.HasPrefix(v.(string), "8 ") }))
			for i, want := range []map[int]string{
				{2: "2 1", 8: "8 2"},
				{2: "2 1", 8: "8 3"},
				{2: "2 1", 8: "8 4"},
			} {
				if got := mustMulti(t, f, 2, 8, 10); !maps.Equal(got, want) {
					t.Fatalf("call %d = %v, want %v", i, got, want)
				}
			}
			if want := [][]int{{2, 8, 10}, {8, 10}, {8, 10}}; !reflect.DeepEqual(seen, want) {
				t.Errorf("function called with %v, want %v", seen, want)
			}
			got, err := f.Refresh(context.Background(), 2, 8)
			if err != nil || got[8] != "8 6" {
				t.Fatalf("Refresh = %v, %v", got, err)
			}
			if got := mustMulti(t, f, 2); got[2] != "2 5" {
				t.Errorf("generate(2) after Refresh = %v, want the refreshed 2 5", got)
			}
		})
	}
}

// TestFuncMultiConcurrentMissOnce: concurrent multi calls on the same
// missing arguments run the function once per argument.
func TestFuncMultiConcurrentMissOnce(t *testing.T) {
	const n = 50
	r, _ := newFuncTestRegion(t, memory.Name, 0)
	var calls atomic.Int64
	var perArg sync.Map
	entered := make(chan struct{})
	release := make(chan struct{})
	f := CacheMulti(r, func(_ context.Context, args []int) (map[int]int, error) {
		if calls.Add(1) == 1 {
			close(entered)
		}
		<-release
		out := make(map[int]int, len(args))
		for _, a := range args {
			if _, dup := perArg.LoadOrStore(a, true); dup {
				return nil, fmt.Errorf("argument %d created twice", a)
			}
			out[a] = a * 10
		}
		return out, nil
	})
	var done sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		done.Go(func() {
			var got map[int]int
			got, errs[i] = f.Call(context.Background(), 1, 2, 3)
			if errs[i] == nil && !maps.Equal(got, map[int]int{1: 10, 2: 20, 3: 30}) {
				errs[i] = fmt.Errorf("got %v", got)
			}
		})
	}
	<-entered
	close(release)
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("function ran %d times, want 1", calls.Load())
	}
}

// newFuncBenchRegion is a memory region on the system clock, as in
// production.
func newFuncBenchRegion(b *testing.B) *Region {
	b.Helper()
	r := NewRegion(WithLogger(slog.New(slog.DiscardHandler)))
	if err := r.Configure(memory.Name, Config{ExpirationTime: time.Hour}); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkFuncHitInt: a hit of a Func1 with an int argument on the
// memory backend. Goal: at most 1 allocation, the key.
func BenchmarkFuncHitInt(b *testing.B) {
	r := newFuncBenchRegion(b)
	f := Cache1(r, func(_ context.Context, x int) (int, error) { return x, nil })
	ctx := context.Background()
	const arg = 123456
	if _, err := f.Call(ctx, arg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Call(ctx, arg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFuncHitStructArg: a hit of a Func1 with a struct argument,
// whose key is built by reflection. Goal: at most 250 ns.
// BenchmarkFuncHitScalarStructArg: a struct of a few scalar fields.
func BenchmarkFuncHitScalarStructArg(b *testing.B) {
	type page struct {
		Section string
		Page    int
		Desc    bool
	}
	r := newFuncBenchRegion(b)
	f := Cache1(r, func(_ context.Context, p page) (int, error) { return p.Page, nil })
	ctx := context.Background()
	p := page{Section: "news", Page: 2, Desc: true}
	if _, err := f.Call(ctx, p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Call(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFuncHitStructArg(b *testing.B) {
	r := newFuncBenchRegion(b)
	f := Cache1(r, func(_ context.Context, q funcTestQuery) (int, error) { return q.Limit, nil })
	ctx := context.Background()
	q := funcTestQuery{Table: "users", Limit: 10, Desc: true, Tags: []string{"a", "b"}}
	if _, err := f.Call(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Call(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFlatStructKeyMatchesToStr: the key of a struct of scalar fields,
// written from its fields' offsets, is ToStr's text, for every kind of
// scalar field, exported or not; structs with other fields, or with String
// methods, take ToStr's path.
func TestFlatStructKeyMatchesToStr(t *testing.T) {
	type flat struct {
		S   string
		B   bool
		I   int
		I8  int8
		I16 int16
		I32 int32
		I64 int64
		U   uint
		U8  uint8
		U16 uint16
		U32 uint32
		U64 uint64
		UP  uintptr
		F32 float32
		F64 float64
		s   string // unexported fields count too
	}
	type named struct {
		ID funcTestNamedInt
	}
	r := NewRegion()
	f := Cache1(r, func(context.Context, flat) (int, error) { return 0, nil }, FuncName("m", "f"))
	if f.plans[0] == nil {
		t.Fatal("no flat plan for a struct of scalars")
	}
	for _, v := range []flat{
		{},
		{S: "it's \"q\"", B: true, I: -1, I8: -8, I16: 300, I32: -70000, I64: 1 << 40, U: 7, U8: 255, U16: 65535,
			U32: 1 << 31, U64: ^uint64(0), UP: 9, F32: 0.1, F64: 1e16, s: "x y"},
	} {
		text, err := ToStr(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := mustKey(f.Key(v)), "m:f|"+text; got != want {
			t.Errorf("Key = %q, want %q", got, want)
		}
	}
	g := Cache1(r, func(context.Context, named) (int, error) { return 0, nil }, FuncName("m", "g"))
	if g.plans[0] == nil {
		t.Error("no flat plan for a struct of a named integer without methods")
	}
	if got, want := mustKey(g.Key(named{ID: 3})), "m:g|named(ID=3)"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	for name, p := range map[string]*flatPlan{
		"slice field":      flatPlanFor[funcTestQuery](),
		"Stringer field":   flatPlanFor[struct{ S funcTestStringer }](),
		"Stringer struct":  flatPlanFor[funcTestStringer](),
		"time field":       flatPlanFor[struct{ T time.Time }](),
		"pointer field":    flatPlanFor[struct{ P *int }](),
		"not a struct":     flatPlanFor[int](),
		"interface field":  flatPlanFor[struct{ V any }](),
		"nested struct":    flatPlanFor[struct{ N struct{ A int } }](),
		"array field":      flatPlanFor[struct{ A [2]int }](),
		"error field type": flatPlanFor[struct{ E funcTestErrorString }](),
	} {
		if p != nil {
			t.Errorf("%s: a flat plan, want ToStr's path", name)
		}
	}
}

// funcTestErrorString is a string type with an Error method.
type funcTestErrorString string

func (e funcTestErrorString) Error() string { return string(e) }
