package dogpile

// Function caching: the Go shape of dogpile.cache's cache_on_arguments and
// cache_multi_on_arguments. A wrapper is made once, usually at start-up and
// before its region is configured, and keys every call by the function's
// name, an optional namespace and the arguments:
//
//	var loadUser = dogpile.Cache1(users, store.LoadUser, dogpile.FuncExpiration(time.Minute))
//	u, err := loadUser.Call(ctx, 42) // key "example.com/app/store:LoadUser|42"

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// FuncOption configures a cached function made by Cache0 … Cache3,
// CacheMulti or CacheMultiMap. Options are applied in order; a later one
// overrides an earlier one of the same kind.
type FuncOption func(*funcConfig)

type funcConfig struct {
	namespace   string
	info        FuncInfo
	named       bool
	argNames    []string
	toStr       func(any) string
	keyGen      KeyGenerator
	multiKeyGen MultiKeyGenerator
	callOpts    []CallOption
}

// Namespace adds namespace to the function's keys, to tell apart functions
// of the same name, such as methods of different types, or one method bound
// to different receivers (dogpile.cache's namespace). The default key
// becomes "<package>:<name>|<namespace>|<args>".
func Namespace(namespace string) FuncOption {
	return func(c *funcConfig) { c.namespace = namespace }
}

// FuncExpiration overrides the region's expiration time for the function's
// values, under the rules of Expiration: a duration ≤ 0, such as
// NoExpiration, means they never expire.
func FuncExpiration(d time.Duration) FuncOption {
	return func(c *funcConfig) { c.callOpts = append(c.callOpts, Expiration(d)) }
}

// FuncExpirationFunc decides the expiration time each time the function's
// value is read, so it can follow the time of day or a setting changed at
// run time (dogpile.cache's callable expiration_time). Its result follows
// FuncExpiration's rules: unlike Python, 0 means never, not "always
// expired". It takes precedence over FuncExpiration, and must be fast and
// safe for concurrent use.
func FuncExpirationFunc(f func() time.Duration) FuncOption {
	return func(c *funcConfig) {
		if f == nil {
			c.callOpts = append(c.callOpts, ExpirationFunc(nil))
			return
		}
		c.callOpts = append(c.callOpts, ExpirationFunc(func(Metadata) time.Duration { return f() }))
	}
}

// FuncShouldCache stores a value the function returns only when f returns
// true for it (dogpile.cache's should_cache_fn); the value is returned
// either way. It applies to Call and Refresh, not to Set.
func FuncShouldCache(f func(any) bool) FuncOption {
	return func(c *funcConfig) { c.callOpts = append(c.callOpts, ShouldCache(f)) }
}

// FuncCallOptions applies CallOptions, such as WaitForFresh, to every call
// of the function. The options Expiration, ExpirationFunc and ShouldCache
// given here are the same as FuncExpiration and its kin.
func FuncCallOptions(opts ...CallOption) FuncOption {
	return func(c *funcConfig) {
		for _, o := range opts {
			if o != nil {
				c.callOpts = append(c.callOpts, o)
			}
		}
	}
}

// ToStrFunc replaces ToStr, the function that turns each argument into its
// key text (dogpile.cache's to_str).
func ToStrFunc(f func(any) string) FuncOption {
	return func(c *funcConfig) { c.toStr = f }
}

// WithKeyGenerator replaces the region's KeyGenerator for one function of
// Cache0 … Cache3 (dogpile.cache's per-decorator function_key_generator).
// CacheMulti and CacheMultiMap ignore it.
func WithKeyGenerator(g KeyGenerator) FuncOption {
	return func(c *funcConfig) { c.keyGen = g }
}

// WithMultiKeyGenerator replaces the region's MultiKeyGenerator for one
// function of CacheMulti or CacheMultiMap. Cache0 … Cache3 ignore it.
func WithMultiKeyGenerator(g MultiKeyGenerator) FuncOption {
	return func(c *funcConfig) { c.multiKeyGen = g }
}

// FuncName names the function explicitly for its keys instead of deriving
// the name from the function's symbol. Give it to anonymous functions,
// whose compiler-chosen names ("Outer.func2") change when code around them
// does, and to functions whose keys must stay put when they are renamed or
// moved, or must match keys written by another process. Functions of
// package main need it too: their package path is "main" under go run and
// go build, but the command's import path under go test.
func FuncName(pkg, name string) FuncOption {
	return func(c *funcConfig) {
		c.info.Package, c.info.Name, c.named = pkg, name, true
	}
}

// ArgNames declares the names of the function's parameters, in order, for
// key generators that use them: KwargKeyGenerator orders the arguments by
// name. Cache1 … Cache3 panic when the number of names is not the number of
// arguments.
func ArgNames(names ...string) FuncOption {
	return func(c *funcConfig) { c.argNames = append([]string(nil), names...) }
}

// funcCore is what every cached function holds: its region, its key
// functions and its call options, all resolved when it is made.
type funcCore struct {
	r *Region
	// keyFn is the single-key generator's function (Cache0 … Cache3);
	// multiFn the multi generator's (CacheMulti, CacheMultiMap).
	keyFn   func(args ...any) string
	multiFn func(args ...any) []string
	// fast is set when keys are FunctionKeyGenerator's with ToStr: they are
	// then built from prefix without boxing the arguments.
	fast   bool
	prefix string
	// opts are the call options; cfg is the same, applied once, for the hit
	// path. cfg is shared by concurrent calls and never modified.
	opts []CallOption
	cfg  callConfig
}

// newFuncCore resolves a wrapper's configuration. arity is the number of
// arguments of a single-key function, or -1 for a multi function.
func newFuncCore(r *Region, fn any, what string, arity int, opts []FuncOption) funcCore {
	if r == nil {
		panic("dogpile: " + what + " with a nil region")
	}
	if reflect.ValueOf(fn).IsNil() {
		panic("dogpile: " + what + " with a nil function")
	}
	var fc funcConfig
	for _, o := range opts {
		if o != nil {
			o(&fc)
		}
	}
	info := fc.info
	if !fc.named {
		info = funcInfoOf(fn)
	}
	info.ArgNames = fc.argNames
	if arity >= 0 && len(info.ArgNames) != 0 && len(info.ArgNames) != arity {
		panic(fmt.Sprintf("dogpile: %s: ArgNames has %d names for %d arguments", what, len(info.ArgNames), arity))
	}
	c := funcCore{r: r, opts: fc.callOpts}
	for _, o := range c.opts {
		o(&c.cfg)
	}
	toStr := fc.toStr
	if toStr == nil {
		toStr = ToStr
	}
	if arity < 0 {
		gen := fc.multiKeyGen
		if gen == nil {
			gen = r.multiKeyGen
		}
		if gen == nil {
			gen = FunctionMultiKeyGenerator
		}
		c.multiFn = gen(fc.namespace, info, toStr)
		return c
	}
	gen := fc.keyGen
	if gen == nil {
		gen = r.keyGen
	}
	if gen == nil {
		gen = FunctionKeyGenerator
	}
	c.keyFn = gen(fc.namespace, info, toStr)
	if sameFunc(gen, FunctionKeyGenerator) && sameFunc(toStr, ToStr) {
		c.fast, c.prefix = true, keyPrefix(fc.namespace, info)+"|"
	}
	return c
}

// sameFunc reports whether two top-level functions are the same function.
func sameFunc(a, b any) bool {
	return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}

// funcInfoOf derives a function's package path and name from its symbol.
func funcInfoOf(fn any) FuncInfo {
	rf := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if rf == nil {
		return FuncInfo{}
	}
	return parseFuncSymbol(rf.Name())
}

// parseFuncSymbol splits a symbol as runtime.FuncForPC names it:
//
//	"github.com/x/app/store.LoadUser"  → "github.com/x/app/store", "LoadUser"
//	"github.com/x/app/store.(*T).M-fm" → "github.com/x/app/store", "(*T).M"
//	"github.com/x/app.Outer.func1"     → "github.com/x/app", "Outer.func1"
//	"example.com/a.b/c.F"              → "example.com/a.b/c", "F"
//	"gopkg.in/yaml%2ev3.Marshal"       → "gopkg.in/yaml.v3", "Marshal"
//	"example.com/g.Map[...]"           → "example.com/g", "Map"
//
// The package ends at the first dot after the last slash; the linker
// escapes dots in the last path element (%2e), which are unescaped.
// Method values lose their "-fm" suffix and generic functions their type
// arguments, so all instantiations of one generic function share its name.
func parseFuncSymbol(sym string) FuncInfo {
	sym = strings.TrimSuffix(stripTypeArgs(sym), "-fm")
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	if dot < 0 {
		return FuncInfo{Name: sym}
	}
	dot += slash + 1
	return FuncInfo{Package: unescapeSymbolPath(sym[:dot]), Name: sym[dot+1:]}
}

// stripTypeArgs removes bracketed type arguments, "[...]" or spelled out.
func stripTypeArgs(s string) string {
	if strings.IndexByte(s, '[') < 0 {
		return s
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeSymbolPath undoes the linker's %xx escaping of import paths.
func unescapeSymbolPath(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// appendKeyArg appends the key text of v (ToStr's) to b, without boxing v
// for strings, integers and bools, so that a key costs one allocation.
func appendKeyArg[T any](b []byte, v T) []byte {
	if out, ok := appendScalar(b, v); ok {
		return out
	}
	return append(b, ToStr(any(v))...)
}

// keyBuf is the stack buffer keys are built in; longer keys cost one more
// allocation.
type keyBuf [128]byte

// refreshTyped is Refresh of the single-key wrappers.
func refreshTyped[R any](ctx context.Context, c *funcCore, key string, create func(context.Context) (R, error)) (R, error) {
	var zero R
	if _, err := c.r.configured(); err != nil {
		return zero, err
	}
	v, err := create(ctx)
	if err != nil {
		return zero, fmt.Errorf("dogpile: refreshing %q: %w", key, err)
	}
	if c.cfg.shouldCache == nil || c.cfg.shouldCache(v) {
		if err := c.r.Set(ctx, key, v); err != nil {
			return zero, err
		}
	}
	return v, nil
}

// Func0 is a cached function without arguments, made by Cache0. It is safe
// for concurrent use.
type Func0[R any] struct {
	c   funcCore
	fn  func(context.Context) (R, error)
	key string // with the default key generator, computed once
}

// Cache0 caches fn, a function without arguments, in r (dogpile.cache's
// cache_on_arguments). Its key is "<package>:<name>|", or
// "<package>:<name>|<namespace>|" with a Namespace, unless a KeyGenerator
// says otherwise. r need not be configured yet. Cache0 panics if r or fn
// is nil.
func Cache0[R any](r *Region, fn func(context.Context) (R, error), opts ...FuncOption) *Func0[R] {
	f := &Func0[R]{c: newFuncCore(r, fn, "Cache0", 0, opts), fn: fn}
	if f.c.fast {
		f.key = f.c.prefix
	}
	return f
}

// Key returns the function's key as the region's key mangler receives it.
func (f *Func0[R]) Key() string {
	if f.c.fast {
		return f.key
	}
	return f.c.keyFn()
}

// Call returns the cached value, calling the function under the dogpile
// lock when it is missing or expired: one caller runs it while the others
// wait for its result or are served the expired value. The function's
// errors are returned and not cached.
func (f *Func0[R]) Call(ctx context.Context) (R, error) {
	key := f.Key()
	var p probe
	if v, done, err := lookupFresh[R](ctx, f.c.r, &f.c.cfg, key, &p); done {
		return v, err
	}
	return createAfter[R](ctx, f.c.r, &f.c.cfg, key, &p, func(ctx context.Context) (any, error) { return f.fn(ctx) })
}

// Get returns the cached value without calling the function, and whether
// there is a fresh one. Unlike dogpile.cache's get, it honours the
// function's expiration options.
func (f *Func0[R]) Get(ctx context.Context) (R, bool, error) {
	return Get[R](ctx, f.c.r, f.Key(), f.c.opts...)
}

// Set stores value as the function's result.
func (f *Func0[R]) Set(ctx context.Context, value R) error {
	return f.c.r.Set(ctx, f.Key(), value)
}

// Invalidate deletes the cached value, so the next Call runs the function.
func (f *Func0[R]) Invalidate(ctx context.Context) error {
	return f.c.r.Delete(ctx, f.Key())
}

// Refresh runs the function now, without the dogpile lock, stores its
// value (subject to FuncShouldCache) and returns it.
func (f *Func0[R]) Refresh(ctx context.Context) (R, error) {
	return refreshTyped(ctx, &f.c, f.Key(), f.fn)
}

// Original returns the function as it was given to Cache0.
func (f *Func0[R]) Original() func(context.Context) (R, error) { return f.fn }

// Func1 is a cached function of one argument, made by Cache1. It is safe
// for concurrent use.
type Func1[A, R any] struct {
	c  funcCore
	fn func(context.Context, A) (R, error)
}

// Cache1 caches fn, a function of one argument, in r (dogpile.cache's
// cache_on_arguments). Its key is "<package>:<name>|<arg>", with
// "|<namespace>" after the name when there is a Namespace, unless a
// KeyGenerator says otherwise; ToStr makes the argument's text. The name
// comes from fn's symbol: "LoadUser" for a function, "(*Store).Load" for a
// method value, "Outer.func1" for an anonymous function (see FuncName).
// Method values of different receivers share their keys unless given
// different namespaces. r need not be configured yet. Cache1 panics if r
// or fn is nil.
func Cache1[A, R any](r *Region, fn func(context.Context, A) (R, error), opts ...FuncOption) *Func1[A, R] {
	return &Func1[A, R]{c: newFuncCore(r, fn, "Cache1", 1, opts), fn: fn}
}

// Key returns the key of a, as the region's key mangler receives it.
func (f *Func1[A, R]) Key(a A) string {
	if f.c.fast {
		var buf keyBuf
		return string(appendKeyArg(append(buf[:0], f.c.prefix...), a))
	}
	return f.c.keyFn(a)
}

// Call returns the cached value for a, calling the function under the
// dogpile lock when it is missing or expired: one caller runs it while the
// others wait for its result or are served the expired value. The
// function's errors are returned and not cached. A fresh hit on a
// ValueBackend allocates only the key.
func (f *Func1[A, R]) Call(ctx context.Context, a A) (R, error) {
	key := f.Key(a)
	var p probe
	if v, done, err := lookupFresh[R](ctx, f.c.r, &f.c.cfg, key, &p); done {
		return v, err
	}
	return f.create(ctx, key, &p, a)
}

func (f *Func1[A, R]) create(ctx context.Context, key string, p *probe, a A) (R, error) {
	return createAfter[R](ctx, f.c.r, &f.c.cfg, key, p, func(ctx context.Context) (any, error) { return f.fn(ctx, a) })
}

// Get returns the cached value for a without calling the function, and
// whether there is a fresh one. Unlike dogpile.cache's get, it honours the
// function's expiration options.
func (f *Func1[A, R]) Get(ctx context.Context, a A) (R, bool, error) {
	return Get[R](ctx, f.c.r, f.Key(a), f.c.opts...)
}

// Set stores value as the function's result for a.
func (f *Func1[A, R]) Set(ctx context.Context, value R, a A) error {
	return f.c.r.Set(ctx, f.Key(a), value)
}

// Invalidate deletes the cached value for a, so the next Call runs the
// function.
func (f *Func1[A, R]) Invalidate(ctx context.Context, a A) error {
	return f.c.r.Delete(ctx, f.Key(a))
}

// Refresh runs the function for a now, without the dogpile lock, stores
// its value (subject to FuncShouldCache) and returns it.
func (f *Func1[A, R]) Refresh(ctx context.Context, a A) (R, error) {
	return refreshTyped(ctx, &f.c, f.Key(a), func(ctx context.Context) (R, error) { return f.fn(ctx, a) })
}

// Original returns the function as it was given to Cache1.
func (f *Func1[A, R]) Original() func(context.Context, A) (R, error) { return f.fn }

// Func2 is a cached function of two arguments, made by Cache2. It is safe
// for concurrent use.
type Func2[A, B, R any] struct {
	c  funcCore
	fn func(context.Context, A, B) (R, error)
}

// Cache2 caches fn, a function of two arguments, in r, as Cache1 does. Its
// default key is "<package>:<name>|<a> <b>", with "|<namespace>" after the
// name when there is a Namespace. Cache2 panics if r or fn is nil.
func Cache2[A, B, R any](r *Region, fn func(context.Context, A, B) (R, error), opts ...FuncOption) *Func2[A, B, R] {
	return &Func2[A, B, R]{c: newFuncCore(r, fn, "Cache2", 2, opts), fn: fn}
}

// Key returns the key of (a, b), as the region's key mangler receives it.
func (f *Func2[A, B, R]) Key(a A, b B) string {
	if f.c.fast {
		var buf keyBuf
		k := appendKeyArg(append(buf[:0], f.c.prefix...), a)
		return string(appendKeyArg(append(k, ' '), b))
	}
	return f.c.keyFn(a, b)
}

// Call returns the cached value for (a, b), calling the function under
// the dogpile lock when it is missing or expired, as Func1.Call does.
func (f *Func2[A, B, R]) Call(ctx context.Context, a A, b B) (R, error) {
	key := f.Key(a, b)
	var p probe
	if v, done, err := lookupFresh[R](ctx, f.c.r, &f.c.cfg, key, &p); done {
		return v, err
	}
	return f.create(ctx, key, &p, a, b)
}

func (f *Func2[A, B, R]) create(ctx context.Context, key string, p *probe, a A, b B) (R, error) {
	return createAfter[R](ctx, f.c.r, &f.c.cfg, key, p, func(ctx context.Context) (any, error) { return f.fn(ctx, a, b) })
}

// Get returns the cached value for (a, b) without calling the function,
// and whether there is a fresh one.
func (f *Func2[A, B, R]) Get(ctx context.Context, a A, b B) (R, bool, error) {
	return Get[R](ctx, f.c.r, f.Key(a, b), f.c.opts...)
}

// Set stores value as the function's result for (a, b).
func (f *Func2[A, B, R]) Set(ctx context.Context, value R, a A, b B) error {
	return f.c.r.Set(ctx, f.Key(a, b), value)
}

// Invalidate deletes the cached value for (a, b).
func (f *Func2[A, B, R]) Invalidate(ctx context.Context, a A, b B) error {
	return f.c.r.Delete(ctx, f.Key(a, b))
}

// Refresh runs the function for (a, b) now, without the dogpile lock,
// stores its value (subject to FuncShouldCache) and returns it.
func (f *Func2[A, B, R]) Refresh(ctx context.Context, a A, b B) (R, error) {
	return refreshTyped(ctx, &f.c, f.Key(a, b), func(ctx context.Context) (R, error) { return f.fn(ctx, a, b) })
}

// Original returns the function as it was given to Cache2.
func (f *Func2[A, B, R]) Original() func(context.Context, A, B) (R, error) { return f.fn }

// Func3 is a cached function of three arguments, made by Cache3. It is
// safe for concurrent use.
type Func3[A, B, C, R any] struct {
	c  funcCore
	fn func(context.Context, A, B, C) (R, error)
}

// Cache3 caches fn, a function of three arguments, in r, as Cache1 does.
// Its default key is "<package>:<name>|<a> <b> <c>", with "|<namespace>"
// after the name when there is a Namespace. Cache3 panics if r or fn is
// nil.
func Cache3[A, B, C, R any](r *Region, fn func(context.Context, A, B, C) (R, error), opts ...FuncOption) *Func3[A, B, C, R] {
	return &Func3[A, B, C, R]{c: newFuncCore(r, fn, "Cache3", 3, opts), fn: fn}
}

// Key returns the key of (a, b, c), as the region's key mangler receives
// it.
func (f *Func3[A, B, C, R]) Key(a A, b B, c C) string {
	if f.c.fast {
		var buf keyBuf
		k := appendKeyArg(append(buf[:0], f.c.prefix...), a)
		k = appendKeyArg(append(k, ' '), b)
		return string(appendKeyArg(append(k, ' '), c))
	}
	return f.c.keyFn(a, b, c)
}

// Call returns the cached value for (a, b, c), calling the function under
// the dogpile lock when it is missing or expired, as Func1.Call does.
func (f *Func3[A, B, C, R]) Call(ctx context.Context, a A, b B, c C) (R, error) {
	key := f.Key(a, b, c)
	var p probe
	if v, done, err := lookupFresh[R](ctx, f.c.r, &f.c.cfg, key, &p); done {
		return v, err
	}
	return f.create(ctx, key, &p, a, b, c)
}

func (f *Func3[A, B, C, R]) create(ctx context.Context, key string, p *probe, a A, b B, c C) (R, error) {
	return createAfter[R](ctx, f.c.r, &f.c.cfg, key, p, func(ctx context.Context) (any, error) { return f.fn(ctx, a, b, c) })
}

// Get returns the cached value for (a, b, c) without calling the function,
// and whether there is a fresh one.
func (f *Func3[A, B, C, R]) Get(ctx context.Context, a A, b B, c C) (R, bool, error) {
	return Get[R](ctx, f.c.r, f.Key(a, b, c), f.c.opts...)
}

// Set stores value as the function's result for (a, b, c).
func (f *Func3[A, B, C, R]) Set(ctx context.Context, value R, a A, b B, c C) error {
	return f.c.r.Set(ctx, f.Key(a, b, c), value)
}

// Invalidate deletes the cached value for (a, b, c).
func (f *Func3[A, B, C, R]) Invalidate(ctx context.Context, a A, b B, c C) error {
	return f.c.r.Delete(ctx, f.Key(a, b, c))
}

// Refresh runs the function for (a, b, c) now, without the dogpile lock,
// stores its value (subject to FuncShouldCache) and returns it.
func (f *Func3[A, B, C, R]) Refresh(ctx context.Context, a A, b B, c C) (R, error) {
	return refreshTyped(ctx, &f.c, f.Key(a, b, c), func(ctx context.Context) (R, error) { return f.fn(ctx, a, b, c) })
}

// Original returns the function as it was given to Cache3.
func (f *Func3[A, B, C, R]) Original() func(context.Context, A, B, C) (R, error) { return f.fn }

// multiKeys returns one key per argument, in order.
func multiKeys[A any](c *funcCore, args []A) ([]string, error) {
	keys := c.multiFn(toAnys(args)...)
	if len(keys) != len(args) {
		return nil, fmt.Errorf("%w: multi key generator returned %d keys for %d arguments", ErrInvalidArgument, len(keys), len(args))
	}
	return keys, nil
}

func toAnys[A any](args []A) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}

// argsFor returns the arguments of the keys want, given keys[i] is the key
// of args[i].
func argsFor[A any](keys []string, args []A, want []string) []A {
	pos := make(map[string]int, len(keys))
	for i, k := range keys {
		if _, dup := pos[k]; !dup {
			pos[k] = i
		}
	}
	out := make([]A, len(want))
	for j, k := range want {
		out[j] = args[pos[k]]
	}
	return out
}

// uniqueArgs returns the arguments without those whose key came before, in
// order, with their keys.
func uniqueArgs[A any](keys []string, args []A) ([]string, []A) {
	seen := make(map[string]bool, len(keys))
	var ukeys []string
	var uargs []A
	for i, k := range keys {
		if !seen[k] {
			seen[k] = true
			ukeys, uargs = append(ukeys, k), append(uargs, args[i])
		}
	}
	return ukeys, uargs
}

// setMulti is Set of the multi wrappers.
func setMulti[A comparable, R any](ctx context.Context, c *funcCore, values map[A]R) error {
	args := make([]A, 0, len(values))
	for a := range values {
		args = append(args, a)
	}
	keys, err := multiKeys(c, args)
	if err != nil {
		return err
	}
	m := make(map[string]any, len(keys))
	for i, k := range keys {
		m[k] = values[args[i]]
	}
	return c.r.SetMulti(ctx, m)
}

// invalidateMulti is Invalidate of the multi wrappers.
func invalidateMulti[A any](ctx context.Context, c *funcCore, args []A) error {
	keys, err := multiKeys(c, args)
	if err != nil {
		return err
	}
	return c.r.DeleteMulti(ctx, keys)
}

// MultiFunc is a cached function of many arguments at once, each with its
// own key and value, made by CacheMulti. It is safe for concurrent use.
type MultiFunc[A comparable, R any] struct {
	c  funcCore
	fn func(ctx context.Context, args []A) ([]R, error)
}

// CacheMulti caches fn, a function that returns one value per argument, in
// order, in r (dogpile.cache's cache_multi_on_arguments). Each argument has
// its own key, "<package>:<name>|<arg>" with "|<namespace>" after the name
// when there is a Namespace, unless a MultiKeyGenerator says otherwise. A
// call reads every key in one backend call and runs fn once with only the
// arguments whose values are missing or expired, in the caller's order and
// without duplicates (dogpile.cache sorts them by key instead). A must be
// comparable, for Set's map. r need not be configured yet. CacheMulti
// panics if r or fn is nil.
func CacheMulti[A comparable, R any](r *Region, fn func(ctx context.Context, args []A) ([]R, error), opts ...FuncOption) *MultiFunc[A, R] {
	return &MultiFunc[A, R]{c: newFuncCore(r, fn, "CacheMulti", -1, opts), fn: fn}
}

// Keys returns the key of each argument, in order, as the region's key
// mangler receives them.
func (f *MultiFunc[A, R]) Keys(args ...A) []string {
	return f.c.multiFn(toAnys(args)...)
}

// Call returns one value per argument, in order, duplicates included. It
// runs the function once, under the dogpile lock, with the arguments whose
// values are missing or expired; it must return one value for each, in
// order, or Call fails with ErrCreatorLength. Nothing is stored when it
// fails.
func (f *MultiFunc[A, R]) Call(ctx context.Context, args ...A) ([]R, error) {
	keys, err := multiKeys(&f.c, args)
	if err != nil {
		return nil, err
	}
	return GetOrCreateMulti(ctx, f.c.r, keys, func(ctx context.Context, missing []string) ([]R, error) {
		return f.fn(ctx, argsFor(keys, args, missing))
	}, f.c.opts...)
}

// Get returns the cached value of each argument without calling the
// function, with found[i] telling whether values[i] is fresh. Unlike
// dogpile.cache's get, it honours the function's expiration options.
func (f *MultiFunc[A, R]) Get(ctx context.Context, args ...A) (values []R, found []bool, err error) {
	keys, err := multiKeys(&f.c, args)
	if err != nil {
		return nil, nil, err
	}
	return GetMulti[R](ctx, f.c.r, keys, f.c.opts...)
}

// Set stores each value as the function's result for its argument, in one
// backend call.
func (f *MultiFunc[A, R]) Set(ctx context.Context, values map[A]R) error {
	return setMulti(ctx, &f.c, values)
}

// Invalidate deletes the cached values of args in one backend call.
func (f *MultiFunc[A, R]) Invalidate(ctx context.Context, args ...A) error {
	return invalidateMulti(ctx, &f.c, args)
}

// Refresh runs the function now with every argument (without duplicates),
// without the dogpile lock, stores the values (subject to FuncShouldCache)
// and returns them aligned to args.
func (f *MultiFunc[A, R]) Refresh(ctx context.Context, args ...A) ([]R, error) {
	keys, err := multiKeys(&f.c, args)
	if err != nil {
		return nil, err
	}
	if _, err := f.c.r.configured(); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return []R{}, nil
	}
	ukeys, uargs := uniqueArgs(keys, args)
	vals, err := f.fn(ctx, uargs)
	if err != nil {
		return nil, fmt.Errorf("dogpile: refreshing %q: %w", ukeys, err)
	}
	if len(vals) != len(uargs) {
		return nil, fmt.Errorf("%w: %d values for %d keys", ErrCreatorLength, len(vals), len(uargs))
	}
	byKey := make(map[string]R, len(ukeys))
	store := make(map[string]any, len(ukeys))
	for j, k := range ukeys {
		byKey[k] = vals[j]
		if f.c.cfg.shouldCache == nil || f.c.cfg.shouldCache(vals[j]) {
			store[k] = vals[j]
		}
	}
	if err := f.c.r.SetMulti(ctx, store); err != nil {
		return nil, err
	}
	out := make([]R, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out, nil
}

// Original returns the function as it was given to CacheMulti.
func (f *MultiFunc[A, R]) Original() func(context.Context, []A) ([]R, error) { return f.fn }

// funcOmitted stands, inside a creation, for an argument the function of
// a MultiMapFunc left out of its map. It is never stored.
type funcOmitted struct{}

// MultiMapFunc is a cached function of many arguments at once that returns
// a map, made by CacheMultiMap. It is safe for concurrent use.
type MultiMapFunc[A comparable, R any] struct {
	c  funcCore
	fn func(ctx context.Context, args []A) (map[A]R, error)
	// shouldCache is the caller's FuncShouldCache; c.cfg holds it wrapped
	// so that omitted arguments are never stored.
	shouldCache func(any) bool
}

// CacheMultiMap is CacheMulti for a function that returns its values as a
// map (dogpile.cache's cache_multi_on_arguments with asdict=True). An
// argument the function leaves out of its map is not cached and is left
// out of Call's result too. CacheMultiMap panics if r or fn is nil.
func CacheMultiMap[A comparable, R any](r *Region, fn func(ctx context.Context, args []A) (map[A]R, error), opts ...FuncOption) *MultiMapFunc[A, R] {
	f := &MultiMapFunc[A, R]{c: newFuncCore(r, fn, "CacheMultiMap", -1, opts), fn: fn}
	user := f.c.cfg.shouldCache
	f.shouldCache = user
	wrapped := func(v any) bool {
		if _, omitted := v.(funcOmitted); omitted {
			return false
		}
		return user == nil || user(v)
	}
	f.c.opts = append(f.c.opts[:len(f.c.opts):len(f.c.opts)], ShouldCache(wrapped))
	f.c.cfg.shouldCache = wrapped
	return f
}

// Keys returns the key of each argument, in order, as the region's key
// mangler receives them.
func (f *MultiMapFunc[A, R]) Keys(args ...A) []string {
	return f.c.multiFn(toAnys(args)...)
}

// Call returns the value of each argument that is cached or that the
// function returns. It runs the function once, under the dogpile lock,
// with the arguments whose values are missing or expired, in the caller's
// order and without duplicates.
func (f *MultiMapFunc[A, R]) Call(ctx context.Context, args ...A) (map[A]R, error) {
	keys, err := multiKeys(&f.c, args)
	if err != nil {
		return nil, err
	}
	cvs, err := f.c.r.getOrCreateMulti(ctx, keys, func(ctx context.Context, missing []string) ([]any, error) {
		margs := argsFor(keys, args, missing)
		m, err := f.fn(ctx, margs)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(margs))
		for i, a := range margs {
			if v, ok := m[a]; ok {
				out[i] = v
			} else {
				out[i] = funcOmitted{}
			}
		}
		return out, nil
	}, f.c.opts)
	if err != nil {
		return nil, err
	}
	out := make(map[A]R, len(args))
	for i, cv := range cvs {
		if _, omitted := cv.Payload.(funcOmitted); omitted {
			continue
		}
		v, err := decodeAs[R](f.c.r, cv)
		if err != nil {
			return nil, err
		}
		out[args[i]] = v
	}
	return out, nil
}

// Get returns the fresh cached values of args without calling the
// function; arguments without one are left out. Unlike dogpile.cache's
// get, it returns a map and honours the function's expiration options.
func (f *MultiMapFunc[A, R]) Get(ctx context.Context, args ...A) (map[A]R, error) {
	keys, err := multiKeys(&f.c, args)
	if err != nil {
		return nil, err
	}
	vals, found, err := GetMulti[R](ctx, f.c.r, keys, f.c.opts...)
	if err != nil {
		return nil, err
	}
	out := make(map[A]R, len(args))
	for i, ok := range found {
		if ok {
			out[args[i]] = vals[i]
		}
	}
	return out, nil
}

// Set stores each value as the function's result for its argument, in one
// backend call.
func (f *MultiMapFunc[A, R]) Set(ctx context.Context, values map[A]R) error {
	return setMulti(ctx, &f.c, values)
}

// Invalidate deletes the cached values of args in one backend call.
func (f *MultiMapFunc[A, R]) Invalidate(ctx context.Context, args ...A) error {
	return invalidateMulti(ctx, &f.c, args)
}

// Refresh runs the function now with every argument (without duplicates),
// without the dogpile lock, stores the values it returns for them (subject
// to FuncShouldCache) and returns those values. Entries of its map for
// arguments not asked for are ignored.
func (f *MultiMapFunc[A, R]) Refresh(ctx context.Context, args ...A) (map[A]R, error) {
	keys, err := multiKeys(&f.c, args)
	if err != nil {
		return nil, err
	}
	if _, err := f.c.r.configured(); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return map[A]R{}, nil
	}
	ukeys, uargs := uniqueArgs(keys, args)
	m, err := f.fn(ctx, uargs)
	if err != nil {
		return nil, fmt.Errorf("dogpile: refreshing %q: %w", ukeys, err)
	}
	out := make(map[A]R, len(uargs))
	store := make(map[string]any, len(uargs))
	for j, a := range uargs {
		v, ok := m[a]
		if !ok {
			continue
		}
		out[a] = v
		if f.shouldCache == nil || f.shouldCache(v) {
			store[ukeys[j]] = v
		}
	}
	if err := f.c.r.SetMulti(ctx, store); err != nil {
		return nil, err
	}
	return out, nil
}

// Original returns the function as it was given to CacheMultiMap.
func (f *MultiMapFunc[A, R]) Original() func(context.Context, []A) (map[A]R, error) { return f.fn }
