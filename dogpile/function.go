package dogpile

// Function caching: the Go shape of dogpile.cache's cache_on_arguments and
// cache_multi_on_arguments. A cached function is made once, usually at
// start-up and before its region is configured, and keys every call by the
// function's name, an optional namespace and the arguments:
//
//	var loadUser = dogpile.Cache1(users, store.LoadUser, dogpile.Expiration(time.Minute))
//	u, err := loadUser.Call(ctx, 42) // key "example.com/app/store:LoadUser|42"

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

// FuncOption configures a function cached with Cache0 … Cache3 or
// CacheMulti. Every CallOption is a FuncOption too, applied to every call
// of the function. Options are applied in order; a later one overrides an
// earlier one of the same kind.
type FuncOption interface {
	applyFunc(*funcConfig)
}

type funcOption func(*funcConfig)

func (o funcOption) applyFunc(c *funcConfig) { o(c) }

type funcConfig struct {
	info  FuncInfo
	named bool
	call  callConfig // starts from the region's CallOptions
}

// Namespace adds namespace to the function's keys, to tell apart functions
// of the same name, such as methods of different types, or one method
// bound to different receivers (dogpile.cache's namespace). The default key
// becomes "<package>:<name>|<namespace>|<args>"; an empty namespace gives
// "<package>:<name>||<args>", as in Python.
func Namespace(namespace string) FuncOption {
	return funcOption(func(c *funcConfig) { c.info.Namespace, c.info.HasNamespace = namespace, true })
}

// FuncName names the function for its keys instead of deriving the name
// from its symbol. Give it to anonymous functions, whose compiler-chosen
// names ("Outer.func2") change when code around them does; to functions
// whose keys must stay put when they are renamed or moved, or must match
// the keys of a Python function (FuncName("myapp.users", "load_user")
// gives Python's "myapp.users:load_user|<args>"); and to functions of
// package main, whose package path is "main" under go run and go build but
// the command's import path under go test.
func FuncName(pkg, name string) FuncOption {
	return funcOption(func(c *funcConfig) {
		c.info.Package, c.info.Name, c.named = pkg, name, true
	})
}

// ArgNames declares the names of the function's parameters, in order, for
// key generators that use them, such as pyconfig.KwargKeyGenerator. The
// function's calls fail when the number of names is not its number of
// arguments.
func ArgNames(names ...string) FuncOption {
	return funcOption(func(c *funcConfig) { c.info.ArgNames = append([]string(nil), names...) })
}

// ToStrFunc replaces ToStr, the function that turns each argument into its
// key text (dogpile.cache's to_str). Its error fails the call.
func ToStrFunc(f func(any) (string, error)) FuncOption {
	return funcOption(func(c *funcConfig) {
		if f == nil {
			c.call.invalid("ToStrFunc", "nil function")
			return
		}
		c.info.ToStr = f
	})
}

// funcCore is what every cached function holds: its region, its key
// function and its call configuration, all resolved when it is made.
type funcCore struct {
	r *Region
	// keyFn is the single-key generator's function (Cache0 … Cache3);
	// multiFn the multi generator's (CacheMulti).
	keyFn   func(args ...any) (string, error)
	multiFn func(args ...any) ([]string, error)
	// fast is set when keys are FunctionKeyGenerator's with ToStr: they
	// are then built from prefix without boxing scalar arguments.
	fast   bool
	prefix string
	// cfg is shared by concurrent calls and never modified; its err holds
	// what the options could not take, returned by every call.
	cfg callConfig
}

// newFuncCore resolves a cached function's configuration. arity is the
// number of arguments of a single-key function, or -1 for a multi
// function.
func newFuncCore(r *Region, fn any, what string, arity int, opts []FuncOption) funcCore {
	var fc funcConfig
	if r == nil {
		r = NewRegion() // never configured: every call fails
		fc.call.invalid(what, "nil region")
	} else {
		fc.call = r.s.defaults
	}
	if reflect.ValueOf(fn).IsNil() {
		fc.call.invalid(what, "nil function")
	}
	for _, o := range opts {
		if o == nil {
			fc.call.invalid(what, "nil FuncOption")
			continue
		}
		o.applyFunc(&fc)
	}
	if !fc.named && !reflect.ValueOf(fn).IsNil() {
		sym := funcInfoOf(fn)
		fc.info.Package, fc.info.Name = sym.Package, sym.Name
	}
	if arity >= 0 && len(fc.info.ArgNames) != 0 && len(fc.info.ArgNames) != arity {
		fc.call.invalid("ArgNames", "%d names for %d arguments", len(fc.info.ArgNames), arity)
	}
	c := funcCore{r: r, cfg: fc.call}
	custom := fc.info.ToStr != nil
	if !custom {
		fc.info.ToStr = ToStr
	}
	if arity < 0 {
		c.multiFn = r.s.multiKeyGen(fc.info)
		return c
	}
	c.keyFn = r.s.keyGen(fc.info)
	if !custom && sameFunc(r.s.keyGen, FunctionKeyGenerator) {
		c.fast, c.prefix = true, keyPrefix(fc.info)+"|"
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

// appendKeyArg appends the key text of v, argument i, to b, without
// boxing scalars or structs of scalars (plan, when T is one: see
// flatPlanFor), so that a key of such arguments costs one allocation.
func appendKeyArg[T any](b []byte, i int, v T, plan *flatPlan) ([]byte, error) {
	if out, ok := appendScalar(b, v, false); ok {
		return out, nil
	}
	if plan != nil {
		return plan.appendFlat(b, unsafe.Pointer(&v)), nil
	}
	out, err := appendToStr(b, any(v))
	if err != nil {
		return b, argError(i, err)
	}
	return out, nil
}

// keyBuf is the stack buffer keys are built in; longer keys cost one more
// allocation.
type keyBuf [256]byte

// keyError is the error of a call whose arguments could not be keyed.
func (c *funcCore) keyError(op string, err error) error {
	return c.r.fail(op, nil, err)
}

// refresh is Refresh of the single-key functions.
func refresh[R any](ctx context.Context, c *funcCore, key string, produce func(context.Context) (R, error)) (R, error) {
	var zero R
	if c.cfg.err != nil {
		return zero, c.r.fail("refresh", []string{key}, c.cfg.err)
	}
	if _, err := c.r.configured("refresh", []string{key}); err != nil {
		return zero, err
	}
	v, err := produce(ctx)
	if err != nil {
		return zero, c.r.fail("refresh", []string{key}, fmt.Errorf("creator: %w", err))
	}
	if c.cfg.shouldCache == nil || c.cfg.shouldCache(v) {
		if err := c.r.Set(ctx, key, v); err != nil {
			return zero, err
		}
	}
	return v, nil
}

// set is Set of the cached functions.
func (c *funcCore) set(ctx context.Context, key string, v any) error {
	if c.cfg.err != nil {
		return c.r.fail("set", []string{key}, c.cfg.err)
	}
	return c.r.Set(ctx, key, v)
}

// invalidate is Invalidate of the single-key functions.
func (c *funcCore) invalidate(ctx context.Context, key string) error {
	if c.cfg.err != nil {
		return c.r.fail("delete", []string{key}, c.cfg.err)
	}
	return c.r.Delete(ctx, key)
}

// Func0 is a cached function without arguments, made by Cache0. It is safe
// for concurrent use.
type Func0[R any] struct {
	c      funcCore
	fn     func(context.Context) (R, error)
	key    string
	keyErr error
}

// Cache0 caches fn, a function without arguments, in r (dogpile.cache's
// cache_on_arguments). Its key is "<package>:<name>|", or
// "<package>:<name>|<namespace>|" with a Namespace, unless the region's
// KeyGenerator says otherwise. r need not be configured yet. A nil r or
// fn, or an option that cannot take its value, makes every call fail.
func Cache0[R any](r *Region, fn func(context.Context) (R, error), opts ...FuncOption) *Func0[R] {
	f := &Func0[R]{c: newFuncCore(r, fn, "Cache0", 0, opts), fn: fn}
	f.key, f.keyErr = f.c.keyFn()
	return f
}

// Key returns the function's key as the region's key mangler receives it.
func (f *Func0[R]) Key() (string, error) { return f.key, f.keyErr }

// Call returns the cached value, calling the function under the dogpile
// lock when it is missing or expired: one caller runs it while the others
// wait for its result or are served the expired value. The function's
// errors are returned and not cached.
func (f *Func0[R]) Call(ctx context.Context) (R, error) {
	if f.keyErr != nil {
		var zero R
		return zero, f.c.keyError("get_or_create", f.keyErr)
	}
	var p probe
	if f.c.r.read(ctx, &f.c.cfg, observe.OpGetOrCreate, f.key, &p) {
		if v, done, err := hit[R](ctx, f.c.r, &f.c.cfg, &p, f.key); done {
			return v, err
		}
	}
	return created[R](ctx, f.c.r, &f.c.cfg, f.key, &p, single[R]{f.fn})
}

// Get returns the cached value without calling the function, and whether
// there is a fresh one. Unlike dogpile.cache's get, it honours the
// function's expiration options.
func (f *Func0[R]) Get(ctx context.Context) (R, bool, error) {
	if f.keyErr != nil {
		var zero R
		return zero, false, f.c.keyError("get", f.keyErr)
	}
	return get[R](ctx, f.c.r, &f.c.cfg, f.key)
}

// Set stores value as the function's result.
func (f *Func0[R]) Set(ctx context.Context, value R) error {
	if f.keyErr != nil {
		return f.c.keyError("set", f.keyErr)
	}
	return f.c.set(ctx, f.key, value)
}

// Invalidate deletes the cached value, so that the next Call runs the
// function.
func (f *Func0[R]) Invalidate(ctx context.Context) error {
	if f.keyErr != nil {
		return f.c.keyError("delete", f.keyErr)
	}
	return f.c.invalidate(ctx, f.key)
}

// Refresh runs the function now, without the dogpile lock, stores its
// value (subject to ShouldCache) and returns it.
func (f *Func0[R]) Refresh(ctx context.Context) (R, error) {
	if f.keyErr != nil {
		var zero R
		return zero, f.c.keyError("refresh", f.keyErr)
	}
	return refresh(ctx, &f.c, f.key, f.fn)
}

// Func1 is a cached function of one argument, made by Cache1. It is
// safe for concurrent use.
type Func1[A, R any] struct {
	c     funcCore
	fn    func(context.Context, A) (R, error)
	plans [1]*flatPlan // of the struct arguments that have one
}

// Cache1 caches fn, a function of one argument, in r (dogpile.cache's
// cache_on_arguments). Its key is "<package>:<name>|<arg>", with
// "|<namespace>" after the name when there is a Namespace, unless the
// region's KeyGenerator says otherwise; ToStr makes the argument's text.
// The name comes from fn's symbol: "LoadUser" for a function,
// "(*Store).Load" for a method value, "Outer.func1" for an anonymous
// function (see FuncName). Method values of different receivers share
// their keys unless given different namespaces. r need not be configured
// yet. A nil r or fn, or an option that cannot take its value, makes every
// call fail.
func Cache1[A, R any](r *Region, fn func(context.Context, A) (R, error), opts ...FuncOption) *Func1[A, R] {
	return &Func1[A, R]{c: newFuncCore(r, fn, "Cache1", 1, opts), fn: fn, plans: [1]*flatPlan{flatPlanFor[A]()}}
}

// Key returns the key of a, as the region's key mangler receives
// it, or why the arguments cannot be keyed.
func (f *Func1[A, R]) Key(a A) (string, error) {
	if f.c.fast {
		var buf keyBuf
		k, err := appendKeyArg(append(buf[:0], f.c.prefix...), 0, a, f.plans[0])
		return string(k), err
	}
	return f.c.keyFn(a)
}

// Call returns the cached value for a, calling the function under the
// dogpile lock when it is missing or expired: one caller runs it while the
// others wait for its result or are served the expired value. The
// function's errors are returned and not cached; arguments that cannot be
// keyed (see ToStr) fail the call.
func (f *Func1[A, R]) Call(ctx context.Context, a A) (R, error) {
	key, err := f.Key(a)
	if err != nil {
		var zero R
		return zero, f.c.keyError("get_or_create", err)
	}
	var p probe
	if f.c.r.read(ctx, &f.c.cfg, observe.OpGetOrCreate, key, &p) {
		if v, done, err := hit[R](ctx, f.c.r, &f.c.cfg, &p, key); done {
			return v, err
		}
	}
	return f.create(ctx, key, &p, a)
}

// create is apart from Call so that only a miss moves the arguments to the
// heap for the creator.
func (f *Func1[A, R]) create(ctx context.Context, key string, p *probe, a A) (R, error) {
	return created[R](ctx, f.c.r, &f.c.cfg, key, p, single[R]{func(ctx context.Context) (R, error) { return f.fn(ctx, a) }})
}

// Get returns the cached value for a without calling the function,
// and whether there is a fresh one.
func (f *Func1[A, R]) Get(ctx context.Context, a A) (R, bool, error) {
	key, err := f.Key(a)
	if err != nil {
		var zero R
		return zero, false, f.c.keyError("get", err)
	}
	return get[R](ctx, f.c.r, &f.c.cfg, key)
}

// Set stores value as the function's result for a.
func (f *Func1[A, R]) Set(ctx context.Context, value R, a A) error {
	key, err := f.Key(a)
	if err != nil {
		return f.c.keyError("set", err)
	}
	return f.c.set(ctx, key, value)
}

// Invalidate deletes the cached value for a, so that the next Call
// runs the function.
func (f *Func1[A, R]) Invalidate(ctx context.Context, a A) error {
	key, err := f.Key(a)
	if err != nil {
		return f.c.keyError("delete", err)
	}
	return f.c.invalidate(ctx, key)
}

// Refresh runs the function for a now, without the dogpile lock,
// stores its value (subject to ShouldCache) and returns it.
func (f *Func1[A, R]) Refresh(ctx context.Context, a A) (R, error) {
	key, err := f.Key(a)
	if err != nil {
		var zero R
		return zero, f.c.keyError("refresh", err)
	}
	return refresh(ctx, &f.c, key, func(ctx context.Context) (R, error) { return f.fn(ctx, a) })
}

// Func2 is a cached function of two arguments, made by Cache2. It is
// safe for concurrent use.
type Func2[A, B, R any] struct {
	c     funcCore
	fn    func(context.Context, A, B) (R, error)
	plans [2]*flatPlan // of the struct arguments that have one
}

// Cache2 caches fn, a function of two arguments, in r, as Cache1 does.
// Its default key is "<package>:<name>|<a> <b>", with "|<namespace>"
// after the name when there is a Namespace.
func Cache2[A, B, R any](r *Region, fn func(context.Context, A, B) (R, error), opts ...FuncOption) *Func2[A, B, R] {
	return &Func2[A, B, R]{c: newFuncCore(r, fn, "Cache2", 2, opts), fn: fn, plans: [2]*flatPlan{flatPlanFor[A](), flatPlanFor[B]()}}
}

// Key returns the key of (a, b), as the region's key mangler receives
// it, or why the arguments cannot be keyed.
func (f *Func2[A, B, R]) Key(a A, b B) (string, error) {
	if f.c.fast {
		var buf keyBuf
		k, err := appendKeyArg(append(buf[:0], f.c.prefix...), 0, a, f.plans[0])
		if err == nil {
			k, err = appendKeyArg(append(k, ' '), 1, b, f.plans[1])
		}
		return string(k), err
	}
	return f.c.keyFn(a, b)
}

// Call returns the cached value for (a, b), calling the function under
// the dogpile lock when it is missing or expired, as Func1.Call does.
func (f *Func2[A, B, R]) Call(ctx context.Context, a A, b B) (R, error) {
	key, err := f.Key(a, b)
	if err != nil {
		var zero R
		return zero, f.c.keyError("get_or_create", err)
	}
	var p probe
	if f.c.r.read(ctx, &f.c.cfg, observe.OpGetOrCreate, key, &p) {
		if v, done, err := hit[R](ctx, f.c.r, &f.c.cfg, &p, key); done {
			return v, err
		}
	}
	return f.create(ctx, key, &p, a, b)
}

// create is apart from Call so that only a miss moves the arguments to the
// heap for the creator.
func (f *Func2[A, B, R]) create(ctx context.Context, key string, p *probe, a A, b B) (R, error) {
	return created[R](ctx, f.c.r, &f.c.cfg, key, p, single[R]{func(ctx context.Context) (R, error) { return f.fn(ctx, a, b) }})
}

// Get returns the cached value for (a, b) without calling the function,
// and whether there is a fresh one.
func (f *Func2[A, B, R]) Get(ctx context.Context, a A, b B) (R, bool, error) {
	key, err := f.Key(a, b)
	if err != nil {
		var zero R
		return zero, false, f.c.keyError("get", err)
	}
	return get[R](ctx, f.c.r, &f.c.cfg, key)
}

// Set stores value as the function's result for (a, b).
func (f *Func2[A, B, R]) Set(ctx context.Context, value R, a A, b B) error {
	key, err := f.Key(a, b)
	if err != nil {
		return f.c.keyError("set", err)
	}
	return f.c.set(ctx, key, value)
}

// Invalidate deletes the cached value for (a, b), so that the next Call
// runs the function.
func (f *Func2[A, B, R]) Invalidate(ctx context.Context, a A, b B) error {
	key, err := f.Key(a, b)
	if err != nil {
		return f.c.keyError("delete", err)
	}
	return f.c.invalidate(ctx, key)
}

// Refresh runs the function for (a, b) now, without the dogpile lock,
// stores its value (subject to ShouldCache) and returns it.
func (f *Func2[A, B, R]) Refresh(ctx context.Context, a A, b B) (R, error) {
	key, err := f.Key(a, b)
	if err != nil {
		var zero R
		return zero, f.c.keyError("refresh", err)
	}
	return refresh(ctx, &f.c, key, func(ctx context.Context) (R, error) { return f.fn(ctx, a, b) })
}

// Func3 is a cached function of three arguments, made by Cache3. It is
// safe for concurrent use.
type Func3[A, B, C, R any] struct {
	c     funcCore
	fn    func(context.Context, A, B, C) (R, error)
	plans [3]*flatPlan // of the struct arguments that have one
}

// Cache3 caches fn, a function of three arguments, in r, as Cache1 does.
// Its default key is "<package>:<name>|<a> <b> <c>", with "|<namespace>"
// after the name when there is a Namespace.
func Cache3[A, B, C, R any](r *Region, fn func(context.Context, A, B, C) (R, error), opts ...FuncOption) *Func3[A, B, C, R] {
	return &Func3[A, B, C, R]{c: newFuncCore(r, fn, "Cache3", 3, opts), fn: fn, plans: [3]*flatPlan{flatPlanFor[A](), flatPlanFor[B](), flatPlanFor[C]()}}
}

// Key returns the key of (a, b, c), as the region's key mangler receives
// it, or why the arguments cannot be keyed.
func (f *Func3[A, B, C, R]) Key(a A, b B, c C) (string, error) {
	if f.c.fast {
		var buf keyBuf
		k, err := appendKeyArg(append(buf[:0], f.c.prefix...), 0, a, f.plans[0])
		if err == nil {
			k, err = appendKeyArg(append(k, ' '), 1, b, f.plans[1])
		}
		if err == nil {
			k, err = appendKeyArg(append(k, ' '), 2, c, f.plans[2])
		}
		return string(k), err
	}
	return f.c.keyFn(a, b, c)
}

// Call returns the cached value for (a, b, c), calling the function under
// the dogpile lock when it is missing or expired, as Func1.Call does.
func (f *Func3[A, B, C, R]) Call(ctx context.Context, a A, b B, c C) (R, error) {
	key, err := f.Key(a, b, c)
	if err != nil {
		var zero R
		return zero, f.c.keyError("get_or_create", err)
	}
	var p probe
	if f.c.r.read(ctx, &f.c.cfg, observe.OpGetOrCreate, key, &p) {
		if v, done, err := hit[R](ctx, f.c.r, &f.c.cfg, &p, key); done {
			return v, err
		}
	}
	return f.create(ctx, key, &p, a, b, c)
}

// create is apart from Call so that only a miss moves the arguments to the
// heap for the creator.
func (f *Func3[A, B, C, R]) create(ctx context.Context, key string, p *probe, a A, b B, c C) (R, error) {
	return created[R](ctx, f.c.r, &f.c.cfg, key, p, single[R]{func(ctx context.Context) (R, error) { return f.fn(ctx, a, b, c) }})
}

// Get returns the cached value for (a, b, c) without calling the function,
// and whether there is a fresh one.
func (f *Func3[A, B, C, R]) Get(ctx context.Context, a A, b B, c C) (R, bool, error) {
	key, err := f.Key(a, b, c)
	if err != nil {
		var zero R
		return zero, false, f.c.keyError("get", err)
	}
	return get[R](ctx, f.c.r, &f.c.cfg, key)
}

// Set stores value as the function's result for (a, b, c).
func (f *Func3[A, B, C, R]) Set(ctx context.Context, value R, a A, b B, c C) error {
	key, err := f.Key(a, b, c)
	if err != nil {
		return f.c.keyError("set", err)
	}
	return f.c.set(ctx, key, value)
}

// Invalidate deletes the cached value for (a, b, c), so that the next Call
// runs the function.
func (f *Func3[A, B, C, R]) Invalidate(ctx context.Context, a A, b B, c C) error {
	key, err := f.Key(a, b, c)
	if err != nil {
		return f.c.keyError("delete", err)
	}
	return f.c.invalidate(ctx, key)
}

// Refresh runs the function for (a, b, c) now, without the dogpile lock,
// stores its value (subject to ShouldCache) and returns it.
func (f *Func3[A, B, C, R]) Refresh(ctx context.Context, a A, b B, c C) (R, error) {
	key, err := f.Key(a, b, c)
	if err != nil {
		var zero R
		return zero, f.c.keyError("refresh", err)
	}
	return refresh(ctx, &f.c, key, func(ctx context.Context) (R, error) { return f.fn(ctx, a, b, c) })
}
