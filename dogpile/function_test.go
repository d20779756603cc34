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
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const funcTestPkg = "github.com/dogpilego/dogpile/dogpile"

// funcTestBackends are the backends every behaviour is checked on: Go
// values as they are, and bytes through the JSON codec.
var funcTestBackends = []string{"dogpile.cache.memory", "dogpile.cache.memory_pickle"}

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
	clk := &funcTestClock{now: time.Unix(1_700_000_000, 0)}
	base := []Option{WithClock(clk.Now), WithLogger(slog.New(slog.DiscardHandler))}
	r := NewRegion(append(base, opts...)...)
	if err := r.Configure(backend, Config{ExpirationTime: exp}); err != nil {
		t.Fatal(err)
	}
	return r, clk
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
		{"custom expire", []FuncOption{FuncExpiration(500 * time.Millisecond)}, longer, ""},
		{"expire callable", []FuncOption{FuncExpirationFunc(func() time.Duration { return 500 * time.Millisecond })}, longer, ""},
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
					if got := f.Key(1, 2); got != tt.wantKey {
						t.Errorf("Key(1, 2) = %q, want %q", got, tt.wantKey)
					}
				}
			})
		}
	}
}

// TestFuncExpireCallableEveryCall checks that FuncExpirationFunc is asked
// on every call (test_decorator_expire_callable_zero in spirit: dogpile's
// 0 means "always expired", here a duration ≤ 0 means never).
func TestFuncExpireCallableEveryCall(t *testing.T) {
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, clk := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var exp atomic.Int64
			exp.Store(int64(time.Hour))
			var counter atomic.Int64
			f := Cache2(r, funcTestGo(&counter), FuncExpirationFunc(func() time.Duration { return time.Duration(exp.Load()) }))
			check := func(step string, want int) {
				t.Helper()
				if got := mustCall2(t, f, 1, 2).N; got != want {
					t.Fatalf("%s: counter %d, want %d", step, got, want)
				}
			}
			check("first", 1)
			clk.Advance(time.Second)
			check("an hour's expiry", 1)
			exp.Store(int64(time.Millisecond))
			check("1ms expiry, value 1s old", 2)
			clk.Advance(2 * time.Millisecond)
			check("1ms expiry, value 2ms old", 3)
			exp.Store(0)
			clk.Advance(24 * time.Hour)
			check("0: never expires", 3)
			exp.Store(int64(NoExpiration))
			check("NoExpiration", 3)
		})
	}
}

// TestFuncNoExpiration: FuncExpiration(NoExpiration) outlives the region's
// expiration; Get honours it too.
func TestFuncNoExpiration(t *testing.T) {
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			r, clk := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			never := Cache2(r, funcTestGo(&counter), FuncExpiration(NoExpiration), Namespace("never"))
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

func TestFuncOriginal(t *testing.T) {
	r := NewRegion()
	var counter atomic.Int64
	generate := funcTestGo(&counter)
	f := Cache2(r, generate)
	if reflect.ValueOf(f.Original()).Pointer() != reflect.ValueOf(generate).Pointer() {
		t.Error("Original() is not the function given to Cache2")
	}
	if got, err := f.Original()(context.Background(), 1, 2); err != nil || got.N != 1 {
		t.Errorf("Original()(1, 2) = %v, %v", got, err)
	}
	load := func(context.Context, []int) ([]int, error) { return nil, nil }
	if reflect.ValueOf(CacheMulti(r, load).Original()).Pointer() != reflect.ValueOf(load).Pointer() {
		t.Error("MultiFunc.Original() is not the function given to CacheMulti")
	}
}

// TestFuncReentrant ports test_reentrant_call: a cached function whose
// creator calls another cached function of the same region.
func TestFuncReentrant(t *testing.T) {
	r, _ := newFuncTestRegion(t, "dogpile.cache.memory", 0)
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
			if got, want := f0.Key(), "p:f0|"; got != want {
				t.Errorf("f0.Key() = %q, want %q", got, want)
			}
			if got, want := f1.Key("a b"), "p:f1|a b"; got != want {
				t.Errorf("f1.Key = %q, want %q", got, want)
			}
			if got, want := f3.Key(-1, true, "x"), "p:f3|ns|-1 true x"; got != want {
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

// TestFuncKeyGenerator ports test_decorator_key_generator: a generator
// keyed on the first argument only.
func TestFuncKeyGenerator(t *testing.T) {
	firstArg := func(_ string, fn FuncInfo, toStr func(any) string) func(args ...any) string {
		return func(args ...any) string { return fn.Name + "_" + toStr(args[0]) }
	}
	for _, viaRegion := range []bool{false, true} {
		t.Run(fmt.Sprint("region=", viaRegion), func(t *testing.T) {
			var ropts []Option
			var fopts []FuncOption
			if viaRegion {
				ropts = append(ropts, WithFunctionKeyGenerator(firstArg))
			} else {
				fopts = append(fopts, WithKeyGenerator(firstArg))
			}
			r, clk := newFuncTestRegion(t, "dogpile.cache.memory", 250*time.Millisecond, ropts...)
			var counter atomic.Int64
			fopts = append(fopts, FuncName("tests", "go"))
			f := Cache2(r, funcTestGo(&counter), fopts...)
			if got := f.Key(1, 3); got != "go_1" {
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
		})
	}
}

func TestFuncKwargKeyGenerator(t *testing.T) {
	r := NewRegion()
	f := Cache2(r, func(_ context.Context, b string, a int) (string, error) { return "", nil },
		FuncName("tests.cache.test_decorator", "one"), WithKeyGenerator(KwargKeyGenerator), ArgNames("b", "a"))
	if got, want := f.Key("x", 1), "tests.cache.test_decorator:one|1 x"; got != want {
		t.Errorf("Key = %q, want %q (arguments sorted by name)", got, want)
	}
	for _, tt := range []struct {
		name string
		mk   func()
	}{
		{"Cache2 with 3 names", func() {
			Cache2(r, func(context.Context, int, int) (int, error) { return 0, nil }, ArgNames("a", "b", "c"))
		}},
		{"Cache1 with 2 names", func() { Cache1(r, func(context.Context, int) (int, error) { return 0, nil }, ArgNames("a", "b")) }},
		{"Cache0 with 1 name", func() { Cache0(r, func(context.Context) (int, error) { return 0, nil }, ArgNames("a")) }},
		{"nil region", func() { Cache1(nil, func(context.Context, int) (int, error) { return 0, nil }) }},
		{"nil function", func() { Cache1[int, int](r, nil) }},
		{"nil multi function", func() { CacheMulti[int, int](r, nil) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				p := recover()
				if p == nil {
					t.Fatal("no panic")
				}
				if s := fmt.Sprint(p); !strings.HasPrefix(s, "dogpile: ") {
					t.Errorf("panic %q lacks the dogpile: prefix", s)
				}
			}()
			tt.mk()
		})
	}
}

func TestFuncToStr(t *testing.T) {
	r := NewRegion()
	repr := func(v any) string { return fmt.Sprintf("%#v", v) }
	h := Cache2(r, func(context.Context, string, any) (int, error) { return 0, nil }, FuncName("mod", "h"), ToStrFunc(repr))
	if got, want := h.Key("x", nil), `mod:h|"x" <nil>`; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	m := CacheMulti(r, func(context.Context, []string) ([]int, error) { return nil, nil }, FuncName("mod", "m"), ToStrFunc(repr))
	if got, want := m.Keys("x", "y"), []string{`mod:m|"x"`, `mod:m|"y"`}; !slices.Equal(got, want) {
		t.Errorf("Keys = %q, want %q", got, want)
	}
	// ToStr given explicitly is the default, with the same keys.
	d := Cache1(r, func(context.Context, int) (int, error) { return 0, nil }, FuncName("mod", "d"), ToStrFunc(ToStr))
	if got, want := d.Key(12345), "mod:d|12345"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}

type funcTestStringer struct{ id int }

func (s funcTestStringer) String() string { return "S#" + strconv.Itoa(s.id) }

type funcTestNamedInt int

// TestFuncFastKeyMatchesGenerator checks that the keys built without
// boxing are FunctionKeyGenerator's, for every kind of argument.
func TestFuncFastKeyMatchesGenerator(t *testing.T) {
	r := NewRegion()
	longName := strings.Repeat("VeryLongFunctionName", 8)
	for _, info := range []FuncInfo{{Package: "p", Name: "f"}, {Package: "example.com/x", Name: longName}} {
		for _, ns := range []string{"", "ns"} {
			gen := FunctionKeyGenerator(ns, info, nil)
			opts := []FuncOption{FuncName(info.Package, info.Name), Namespace(ns)}
			f1 := Cache1(r, func(context.Context, any) (int, error) { return 0, nil }, opts...)
			if !f1.c.fast {
				t.Fatal("default key generator did not take the fast path")
			}
			values := []any{"x", "", "a b", "m\xe9il dr\xf4le", "méil", 0, 7, -7, 99, 100, 12345, 1 << 62, -1 << 63,
				int8(-3), int16(300), int32(-70000), int64(1) << 40, uint(5), uint8(255), uint16(65535),
				uint32(1) << 31, ^uint64(0), true, false, 3.5, 1e21, nil, funcTestStringer{4}, funcTestNamedInt(9),
				struct{ A, B int }{1, 2}, (*int)(nil), []int{1, 2}, strings.Repeat("z", 300)}
			for _, v := range values {
				if got, want := f1.Key(v), gen(v); got != want {
					t.Errorf("Key(%#v) = %q, want %q", v, got, want)
				}
			}
			f2 := Cache2(r, func(context.Context, string, int64) (int, error) { return 0, nil }, opts...)
			if got, want := f2.Key("a", -5), gen("a", int64(-5)); got != want {
				t.Errorf("Func2.Key = %q, want %q", got, want)
			}
			f3 := Cache3(r, func(context.Context, uint8, bool, funcTestNamedInt) (int, error) { return 0, nil }, opts...)
			if got, want := f3.Key(3, true, 4), gen(uint8(3), true, funcTestNamedInt(4)); got != want {
				t.Errorf("Func3.Key = %q, want %q", got, want)
			}
			f0 := Cache0(r, func(context.Context) (int, error) { return 0, nil }, opts...)
			if got, want := f0.Key(), gen(); got != want {
				t.Errorf("Func0.Key = %q, want %q", got, want)
			}
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
	if got, want := Cache1(r, funcTestLoadUser).Key(42), funcTestPkg+":funcTestLoadUser|42"; got != want {
		t.Errorf("function key = %q, want %q", got, want)
	}
	if got, want := Cache1(r, s.Load, Namespace("K")).Key(1), funcTestPkg+":(*funcTestStore).Load|K|1"; got != want {
		t.Errorf("method key = %q, want %q", got, want)
	}
	if got, want := Cache1(r, closure).Key(7), funcTestPkg+":TestFuncInfoOf.func1|7"; got != want {
		t.Errorf("closure key = %q, want %q", got, want)
	}
	if got, want := Cache1(r, closure, FuncName("app", "load")).Key(7), "app:load|7"; got != want {
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
// mangled key (test_sha1_key_mangler through a region).
func TestFuncMangler(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		mangler func(string) string
		want    []string
	}{
		{"sha1", SHA1MangleKey, []string{"aead490a8ace2d69a00160f1fd8fd8a16552c24f"}},
		{"length conditional, long key", LengthConditionalMangler(30, SHA1MangleKey), []string{"aead490a8ace2d69a00160f1fd8fd8a16552c24f"}},
		{"length conditional, short key", LengthConditionalMangler(100, SHA1MangleKey), []string{"tests.cache.test_decorator:one|1 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, "dogpile.cache.memory", 0, WithKeyMangler(tt.mangler))
			var counter atomic.Int64
			f := Cache2(r, funcTestGo(&counter), FuncName("tests.cache.test_decorator", "one"))
			if got := f.Key(1, 2); got != "tests.cache.test_decorator:one|1 2" {
				t.Errorf("Key = %q: Key must not mangle", got)
			}
			mustCall2(t, f, 1, 2)
			mustCall2(t, f, 1, 2)
			if counter.Load() != 1 {
				t.Errorf("function ran %d times, want 1", counter.Load())
			}
			b, _ := r.ActualBackend()
			if got := b.(*MemoryBackend).Keys(); !slices.Equal(got, tt.want) {
				t.Errorf("backend keys = %q, want %q", got, tt.want)
			}
			if _, ok, err := f.Get(ctx, 1, 2); !ok || err != nil {
				t.Errorf("Get = %v, %v", ok, err)
			}
			if err := f.Invalidate(ctx, 1, 2); err != nil {
				t.Fatal(err)
			}
			if got := b.(*MemoryBackend).Keys(); len(got) != 0 {
				t.Errorf("backend keys after Invalidate = %q", got)
			}
		})
	}
}

// TestFuncShouldCache: values refused by FuncShouldCache are returned,
// not stored, by Call and Refresh; Set stores them anyway.
func TestFuncShouldCache(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			f := Cache1(r, func(_ context.Context, x int) (int, error) {
				return int(counter.Add(1)) * x, nil
			}, FuncShouldCache(func(v any) bool { return v.(int)%2 == 0 }))
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
				if !errors.Is(err, errFuncTest) || !strings.HasPrefix(err.Error(), "dogpile: ") {
					t.Fatalf("Call error = %v, want a dogpile: error wrapping %v", err, errFuncTest)
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

// TestFuncNotConfigured: wrappers are made before the region is
// configured, fail with ErrNotConfigured until it is, then work.
func TestFuncNotConfigured(t *testing.T) {
	ctx := context.Background()
	r := NewRegion(WithName("later"), WithLogger(slog.New(slog.DiscardHandler)))
	var calls atomic.Int64
	f := Cache1(r, func(_ context.Context, x int) (int, error) { calls.Add(1); return x * 10, nil })
	m := CacheMulti(r, func(_ context.Context, xs []int) ([]int, error) {
		calls.Add(1)
		out := make([]int, len(xs))
		for i, x := range xs {
			out[i] = x * 10
		}
		return out, nil
	})
	mm := CacheMultiMap(r, func(_ context.Context, xs []int) (map[int]int, error) { calls.Add(1); return nil, nil })
	checks := map[string]error{}
	_, checks["Call"] = f.Call(ctx, 1)
	_, _, checks["Get"] = f.Get(ctx, 1)
	checks["Set"] = f.Set(ctx, 1, 1)
	checks["Invalidate"] = f.Invalidate(ctx, 1)
	_, checks["Refresh"] = f.Refresh(ctx, 1)
	_, checks["multi Call"] = m.Call(ctx, 1, 2)
	_, _, checks["multi Get"] = m.Get(ctx, 1)
	checks["multi Set"] = m.Set(ctx, map[int]int{1: 1})
	checks["multi Invalidate"] = m.Invalidate(ctx, 1)
	_, checks["multi Refresh"] = m.Refresh(ctx, 1)
	_, checks["map Call"] = mm.Call(ctx, 1)
	_, checks["map Get"] = mm.Get(ctx, 1)
	_, checks["map Refresh"] = mm.Refresh(ctx, 1)
	for name, err := range checks {
		if !errors.Is(err, ErrNotConfigured) {
			t.Errorf("%s before Configure: %v, want ErrNotConfigured", name, err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("functions ran %d times before Configure", calls.Load())
	}
	if err := r.Configure("dogpile.cache.memory", Config{}); err != nil {
		t.Fatal(err)
	}
	if v, err := f.Call(ctx, 2); err != nil || v != 20 {
		t.Errorf("Call after Configure = %d, %v", v, err)
	}
	if v, err := m.Call(ctx, 1, 2); err != nil || !slices.Equal(v, []int{10, 20}) {
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
			m := CacheMulti(r, func(_ context.Context, xs []int) ([]int, error) { return xs, nil }, Namespace("m"))
			mm := CacheMultiMap(r, func(_ context.Context, xs []int) (map[int]int, error) { return nil, nil }, Namespace("mm"))
			if err := r.Set(ctx, f.Key(1), "a string"); err != nil {
				t.Fatal(err)
			}
			if err := r.Set(ctx, m.Keys(1)[0], "a string"); err != nil {
				t.Fatal(err)
			}
			if err := r.Set(ctx, mm.Keys(1)[0], "a string"); err != nil {
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
			if _, _, err := m.Get(ctx, 1); !errors.Is(err, ErrTypeMismatch) {
				t.Errorf("multi Get: %v, want ErrTypeMismatch", err)
			}
			if _, err := mm.Call(ctx, 1); !errors.Is(err, ErrTypeMismatch) {
				t.Errorf("map Call: %v, want ErrTypeMismatch", err)
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
	r, _ := newFuncTestRegion(t, "dogpile.cache.memory_pickle", 0)
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
	b, _ := r.ActualBackend()
	raw, ok, err := b.(*MemoryBytesBackend).GetBytes(ctx, "app:load|7")
	if err != nil || !ok {
		t.Fatalf("backend entry: %v, %v", ok, err)
	}
	md, payload, err := DecodeEntry(raw)
	if err != nil || md.Version != ValueVersion {
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
	obs := ObserverFunc(func(_ context.Context, e Event) {
		if e.Op == OpGetOrCreate {
			mu.Lock()
			results = append(results, e.Results[0].String())
			mu.Unlock()
		}
	})
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			results = nil
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
			release := make(chan struct{})
			f := Cache1(r, func(_ context.Context, x int) (string, error) {
				calls.Add(1)
				<-release
				return "v" + strconv.Itoa(x), nil
			})
			var started, done sync.WaitGroup
			started.Add(n)
			results := make([]string, n)
			errs := make([]error, n)
			for i := range n {
				done.Go(func() {
					started.Done()
					results[i], errs[i] = f.Call(context.Background(), 42)
				})
			}
			started.Wait()
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
	r, _ := newFuncTestRegion(t, "dogpile.cache.memory", time.Hour)
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
	if allocs > 2 {
		t.Errorf("Func1 hit allocates %v times, want ≤ 2", allocs)
	}
	// With call options (precomputed once) the hit allocates the same.
	g := Cache1(r, func(_ context.Context, x int) (int, error) { return x, nil },
		Namespace("opts"), FuncExpiration(time.Minute), FuncShouldCache(func(any) bool { return true }))
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

// funcTestMultiGo is DecoratorTest's multi go(*args): one counter value
// per call, "<n> <arg>" per argument.
func funcTestMultiGo(counter *atomic.Int64, seen *[][]int) func(context.Context, []int) ([]string, error) {
	return func(_ context.Context, args []int) ([]string, error) {
		if seen != nil {
			*seen = append(*seen, slices.Clone(args))
		}
		n := counter.Add(1)
		out := make([]string, len(args))
		for i, a := range args {
			out[i] = fmt.Sprintf("%d %d", n, a)
		}
		return out, nil
	}
}

// funcTestGenerate is CacheDecoratorTest's multi generate(*args): one
// counter value per argument.
func funcTestGenerate(counter *atomic.Int64, seen *[][]int) func(context.Context, []int) ([]string, error) {
	return func(_ context.Context, args []int) ([]string, error) {
		if seen != nil {
			*seen = append(*seen, slices.Clone(args))
		}
		out := make([]string, len(args))
		for i, a := range args {
			out[i] = fmt.Sprintf("%d %d", a, counter.Add(1))
		}
		return out, nil
	}
}

func mustMulti[A comparable, R any](t *testing.T, f *MultiFunc[A, R], args ...A) []R {
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
			if got, want := mustMulti(t, f, 2, 8, 10), []string{"2 1", "8 2", "10 3"}; !slices.Equal(got, want) {
				t.Errorf("generate(2, 8, 10) = %q, want %q", got, want)
			}
			if got, want := mustMulti(t, f, 2, 9, 10), []string{"2 1", "9 4", "10 3"}; !slices.Equal(got, want) {
				t.Errorf("generate(2, 9, 10) = %q, want %q", got, want)
			}
			if err := f.Invalidate(ctx, 2); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMulti(t, f, 2, 7, 10), []string{"2 5", "7 6", "10 3"}; !slices.Equal(got, want) {
				t.Errorf("generate(2, 7, 10) = %q, want %q", got, want)
			}
			if err := f.Set(ctx, map[int]string{7: "18", 10: "15"}); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMulti(t, f, 2, 7, 10), []string{"2 5", "18", "15"}; !slices.Equal(got, want) {
				t.Errorf("generate(2, 7, 10) after Set = %q, want %q", got, want)
			}
			if want := [][]int{{2, 8, 10}, {9}, {2, 7}}; !reflect.DeepEqual(seen, want) {
				t.Errorf("function called with %v, want %v", seen, want)
			}
		})
	}
}

// TestFuncMultiCallerOrder: missing arguments reach the function in the
// caller's order, without duplicates; results follow the arguments.
func TestFuncMultiCallerOrder(t *testing.T) {
	r, _ := newFuncTestRegion(t, "dogpile.cache.memory", 0)
	var counter atomic.Int64
	var seen [][]int
	f := CacheMulti(r, funcTestGenerate(&counter, &seen))
	mustMulti(t, f, 5)
	got := mustMulti(t, f, 10, 2, 5, 10, 9, 2)
	if want := []string{"10 2", "2 3", "5 1", "10 2", "9 4", "2 3"}; !slices.Equal(got, want) {
		t.Errorf("Call = %q, want %q", got, want)
	}
	if want := [][]int{{5}, {10, 2, 9}}; !reflect.DeepEqual(seen, want) {
		t.Errorf("function called with %v, want %v", seen, want)
	}
	if got := mustMulti(t, f); len(got) != 0 {
		t.Errorf("Call() = %q, want empty", got)
	}
	if len(seen) != 2 {
		t.Errorf("Call() ran the function")
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
			if got, want := mustMulti(t, f, 1, 2), []string{"1 1", "1 2"}; !slices.Equal(got, want) {
				t.Errorf("go(1, 2) = %q, want %q", got, want)
			}
			vals, found, err := f.Get(ctx, 3, 1)
			if err != nil || !slices.Equal(vals, []string{"", "1 1"}) || !slices.Equal(found, []bool{false, true}) {
				t.Errorf("Get(3, 1) = %q, %v, %v", vals, found, err)
			}
			if got, want := mustMulti(t, f, 3, 1), []string{"2 3", "1 1"}; !slices.Equal(got, want) {
				t.Errorf("go(3, 1) = %q, want %q", got, want)
			}
			if vals, found, err := f.Get(ctx); err != nil || len(vals) != 0 || len(found) != 0 {
				t.Errorf("Get() = %q, %v, %v", vals, found, err)
			}
		})
		t.Run(backend+"/set", func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 250*time.Millisecond)
			var counter atomic.Int64
			f := CacheMulti(r, funcTestMultiGo(&counter, nil))
			if err := f.Set(ctx, map[int]string{1: "1 5", 2: "1 6"}); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMulti(t, f, 1, 2), []string{"1 5", "1 6"}; !slices.Equal(got, want) {
				t.Errorf("go(1, 2) = %q, want %q", got, want)
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
			if want := []string{"2 1", "2 2", "2 1"}; err != nil || !slices.Equal(got, want) {
				t.Errorf("Refresh(1, 2, 1) = %q, %v; want %q", got, err, want)
			}
			if got, want := mustMulti(t, f, 1, 2), []string{"2 1", "2 2"}; !slices.Equal(got, want) {
				t.Errorf("go(1, 2) after Refresh = %q, want %q", got, want)
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
			f := CacheMulti(r, funcTestMultiGo(&counter, nil), FuncExpiration(time.Minute))
			mustMulti(t, f, 1)
			clk.Advance(40 * time.Second)
			mustMulti(t, f, 2)
			clk.Advance(40 * time.Second)
			if got, want := mustMulti(t, f, 1, 2), []string{"3 1", "2 2"}; !slices.Equal(got, want) {
				t.Errorf("go(1, 2) = %q, want %q: only 1 has expired", got, want)
			}
		})
	}
}

// TestFuncMultiKeyGenerator ports test_decorator_key_generator_multi: a
// generator returning the keys reversed; each key goes with the argument
// at its position, as dogpile's zip(keys, args).
func TestFuncMultiKeyGenerator(t *testing.T) {
	ctx := context.Background()
	reversed := func(ns string, fn FuncInfo, toStr func(any) string) func(args ...any) []string {
		return func(args ...any) []string {
			keys := FunctionMultiKeyGenerator(ns, fn, toStr)(args...)
			slices.Reverse(keys)
			return keys
		}
	}
	for _, viaRegion := range []bool{false, true} {
		t.Run(fmt.Sprint("region=", viaRegion), func(t *testing.T) {
			var ropts []Option
			var fopts []FuncOption
			if viaRegion {
				ropts = append(ropts, WithFunctionMultiKeyGenerator(reversed))
			} else {
				fopts = append(fopts, WithMultiKeyGenerator(reversed))
			}
			r, _ := newFuncTestRegion(t, "dogpile.cache.memory", 0, ropts...)
			var counter atomic.Int64
			f := CacheMulti(r, funcTestMultiGo(&counter, nil), append(fopts, FuncName("m", "go"))...)
			if got, want := f.Keys(1, 2), []string{"m:go|2", "m:go|1"}; !slices.Equal(got, want) {
				t.Errorf("Keys(1, 2) = %q, want %q", got, want)
			}
			if got, want := mustMulti(t, f, 1, 2), []string{"1 1", "1 2"}; !slices.Equal(got, want) {
				t.Errorf("go(1, 2) = %q, want %q", got, want)
			}
			vals, found, err := f.Get(ctx, 3, 1)
			if err != nil || !slices.Equal(vals, []string{"1 2", ""}) || !slices.Equal(found, []bool{true, false}) {
				t.Errorf("Get(3, 1) = %q, %v, %v; want [1 2, missing]", vals, found, err)
			}
			if got, want := mustMulti(t, f, 3, 1), []string{"1 2", "2 1"}; !slices.Equal(got, want) {
				t.Errorf("go(3, 1) = %q, want %q", got, want)
			}
		})
	}
}

func TestFuncMultiErrors(t *testing.T) {
	ctx := context.Background()
	r, _ := newFuncTestRegion(t, "dogpile.cache.memory", 0)
	short := CacheMulti(r, func(_ context.Context, args []int) ([]int, error) { return args[1:], nil }, Namespace("short"))
	if _, err := short.Call(ctx, 1, 2); !errors.Is(err, ErrCreatorLength) {
		t.Errorf("Call with a short result: %v, want ErrCreatorLength", err)
	}
	if _, err := short.Refresh(ctx, 1, 2); !errors.Is(err, ErrCreatorLength) {
		t.Errorf("Refresh with a short result: %v, want ErrCreatorLength", err)
	}
	if _, found, _ := short.Get(ctx, 1, 2); slices.Contains(found, true) {
		t.Error("a failed call stored values")
	}
	failing := CacheMulti(r, func(context.Context, []int) ([]int, error) { return nil, errFuncTest }, Namespace("failing"))
	if _, err := failing.Call(ctx, 1); !errors.Is(err, errFuncTest) || !strings.HasPrefix(err.Error(), "dogpile: ") {
		t.Errorf("Call of a failing function: %v", err)
	}
	if _, err := failing.Refresh(ctx, 1); !errors.Is(err, errFuncTest) || !strings.HasPrefix(err.Error(), "dogpile: ") {
		t.Errorf("Refresh of a failing function: %v", err)
	}
	badGen := func(string, FuncInfo, func(any) string) func(args ...any) []string {
		return func(args ...any) []string { return []string{"one"} }
	}
	bad := CacheMulti(r, func(_ context.Context, args []int) ([]int, error) { return args, nil }, WithMultiKeyGenerator(badGen))
	if _, err := bad.Call(ctx, 1, 2); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Call with a bad key generator: %v, want ErrInvalidArgument", err)
	}
	badMap := CacheMultiMap(r, func(context.Context, []int) (map[int]int, error) { return nil, nil }, WithMultiKeyGenerator(badGen))
	if _, err := badMap.Call(ctx, 1, 2); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("map Call with a bad key generator: %v, want ErrInvalidArgument", err)
	}
}

// TestFuncMultiNamespace ports test_multi_namespace: the backend keys.
func TestFuncMultiNamespace(t *testing.T) {
	r, _ := newFuncTestRegion(t, "dogpile.cache.memory", 0)
	var counter atomic.Int64
	f := CacheMulti(r, funcTestGenerate(&counter, nil), Namespace("foo"), FuncName("tests.cache.test_decorator", "generate"))
	mustMulti(t, f, 2, 8, 10)
	mustMulti(t, f, 2, 9, 10)
	b, _ := r.ActualBackend()
	got := b.(*MemoryBackend).Keys()
	slices.Sort(got)
	want := []string{
		"tests.cache.test_decorator:generate|foo|10",
		"tests.cache.test_decorator:generate|foo|2",
		"tests.cache.test_decorator:generate|foo|8",
		"tests.cache.test_decorator:generate|foo|9",
	}
	if !slices.Equal(got, want) {
		t.Errorf("backend keys = %q, want %q", got, want)
	}
}

// funcTestGenerateMap is test_multi_asdict's generate: a map, one counter
// value per argument, leaving out the arguments in omit.
func funcTestGenerateMap(counter *atomic.Int64, seen *[][]int, omit ...int) func(context.Context, []int) (map[int]string, error) {
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

func mustMap[A comparable, R any](t *testing.T, f *MultiMapFunc[A, R], args ...A) map[A]R {
	t.Helper()
	v, err := f.Call(context.Background(), args...)
	if err != nil {
		t.Fatalf("Call(%v): %v", args, err)
	}
	return v
}

// TestFuncMultiMap ports test_multi_asdict.
func TestFuncMultiMap(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			var seen [][]int
			f := CacheMultiMap(r, funcTestGenerateMap(&counter, &seen))
			steps := []struct {
				args []int
				want map[int]string
			}{
				{[]int{2, 8, 10}, map[int]string{2: "2 1", 8: "8 2", 10: "10 3"}},
				{[]int{2, 9, 10}, map[int]string{2: "2 1", 9: "9 4", 10: "10 3"}},
			}
			for _, s := range steps {
				if got := mustMap(t, f, s.args...); !maps.Equal(got, s.want) {
					t.Fatalf("generate(%v) = %v, want %v", s.args, got, s.want)
				}
			}
			if err := f.Invalidate(ctx, 2); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMap(t, f, 2, 7, 10), map[int]string{2: "2 5", 7: "7 6", 10: "10 3"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 7, 10) = %v, want %v", got, want)
			}
			if err := f.Set(ctx, map[int]string{7: "18", 10: "15"}); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMap(t, f, 2, 7, 10), map[int]string{2: "2 5", 7: "18", 10: "15"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 7, 10) after Set = %v, want %v", got, want)
			}
			got, err := f.Refresh(ctx, 2, 7)
			if want := map[int]string{2: "2 7", 7: "7 8"}; err != nil || !maps.Equal(got, want) {
				t.Errorf("Refresh(2, 7) = %v, %v; want %v", got, err, want)
			}
			if got, want := mustMap(t, f, 2, 7, 10), map[int]string{2: "2 7", 7: "7 8", 10: "15"}; !maps.Equal(got, want) {
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

// TestFuncMultiMapKeysMissing ports test_multi_asdict_keys_missing: an
// argument the function leaves out is neither cached nor returned.
func TestFuncMultiMapKeysMissing(t *testing.T) {
	ctx := context.Background()
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			var seen [][]int
			f := CacheMultiMap(r, funcTestGenerateMap(&counter, &seen, 10))
			if got, want := mustMap(t, f, 2, 8, 10), map[int]string{2: "2 1", 8: "8 2"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 8, 10) = %v, want %v", got, want)
			}
			if _, ok, err := r.Get(ctx, f.Keys(10)[0]); ok || err != nil {
				t.Errorf("region.Get(key of 10) = %v, %v; want no value", ok, err)
			}
			if got, want := mustMap(t, f, 2, 8, 10), map[int]string{2: "2 1", 8: "8 2"}; !maps.Equal(got, want) {
				t.Errorf("generate(2, 8, 10) again = %v, want %v", got, want)
			}
			if err := f.Set(ctx, map[int]string{10: "some value"}); err != nil {
				t.Fatal(err)
			}
			if got, want := mustMap(t, f, 2, 8, 10), map[int]string{2: "2 1", 8: "8 2", 10: "some value"}; !maps.Equal(got, want) {
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

// TestFuncMultiMapShouldCache ports
// test_multi_asdict_keys_missing_existing_cache_fn: values refused by
// FuncShouldCache are regenerated on every call; omitted ones are never
// stored either.
func TestFuncMultiMapShouldCache(t *testing.T) {
	for _, backend := range funcTestBackends {
		t.Run(backend, func(t *testing.T) {
			r, _ := newFuncTestRegion(t, backend, 0)
			var counter atomic.Int64
			var seen [][]int
			f := CacheMultiMap(r, funcTestGenerateMap(&counter, &seen, 10),
				FuncShouldCache(func(v any) bool { return !strings.HasPrefix(v.(string), "8 ") }))
			for i, want := range []map[int]string{
				{2: "2 1", 8: "8 2"},
				{2: "2 1", 8: "8 3"},
				{2: "2 1", 8: "8 4"},
			} {
				if got := mustMap(t, f, 2, 8, 10); !maps.Equal(got, want) {
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
			if got := mustMap(t, f, 2); got[2] != "2 5" {
				t.Errorf("generate(2) after Refresh = %v, want the refreshed 2 5", got)
			}
		})
	}
}

// TestFuncMultiConcurrentMissOnce: concurrent multi calls on the same
// missing arguments run the function once per argument.
func TestFuncMultiConcurrentMissOnce(t *testing.T) {
	const n = 50
	r, _ := newFuncTestRegion(t, "dogpile.cache.memory", 0)
	var calls atomic.Int64
	var perArg sync.Map
	release := make(chan struct{})
	f := CacheMulti(r, func(_ context.Context, args []int) ([]int, error) {
		calls.Add(1)
		<-release
		for _, a := range args {
			if _, dup := perArg.LoadOrStore(a, true); dup {
				return nil, fmt.Errorf("argument %d created twice", a)
			}
		}
		return args, nil
	})
	var started, done sync.WaitGroup
	started.Add(n)
	errs := make([]error, n)
	for i := range n {
		done.Go(func() {
			started.Done()
			var got []int
			got, errs[i] = f.Call(context.Background(), 1, 2, 3)
			if errs[i] == nil && !slices.Equal(got, []int{1, 2, 3}) {
				errs[i] = fmt.Errorf("got %v", got)
			}
		})
	}
	started.Wait()
	close(release)
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
}
