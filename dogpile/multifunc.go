package dogpile

import (
	"context"
	"fmt"
)

// MultiFunc is a cached function of many arguments at once, each with its
// own key and value, made by CacheMulti. It is safe for concurrent use.
type MultiFunc[A comparable, R any] struct {
	c  funcCore
	fn func(ctx context.Context, args []A) (map[A]R, error)
}

// CacheMulti caches fn, a function that returns the values of the
// arguments it is given, in r (dogpile.cache's cache_multi_on_arguments,
// with asdict=True). Each argument has its own key,
// "<package>:<name>|<arg>" with "|<namespace>" after the name when there is
// a Namespace, unless the region's MultiKeyGenerator says otherwise. A
// call reads every key in one backend call and runs fn once with only the
// arguments whose values are missing or expired, in the caller's order and
// without duplicates (dogpile.cache sorts them by key instead). An
// argument fn leaves out of its map is not cached and is left out of the
// result. r need not be configured yet. A nil r or fn, or an option that
// cannot take its value, makes every call fail.
func CacheMulti[A comparable, R any](r *Region, fn func(ctx context.Context, args []A) (map[A]R, error), opts ...FuncOption) *MultiFunc[A, R] {
	return &MultiFunc[A, R]{c: newFuncCore(r, fn, "CacheMulti", -1, opts), fn: fn}
}

// Keys returns the key of each argument, in order, as the region's key
// mangler receives them, or why the arguments cannot be keyed.
func (f *MultiFunc[A, R]) Keys(args ...A) ([]string, error) { return f.keys(args) }

func (f *MultiFunc[A, R]) keys(args []A) ([]string, error) {
	anys := make([]any, len(args))
	for i, a := range args {
		anys[i] = a
	}
	keys, err := f.c.multiFn(anys...)
	if err != nil {
		return nil, err
	}
	if len(keys) != len(args) {
		return nil, fmt.Errorf("%w: the multi key generator returned %d keys for %d arguments", ErrInvalidArgument, len(keys), len(args))
	}
	return keys, nil
}

// argsByKey maps each key to the first argument that has it.
func argsByKey[A any](keys []string, args []A) map[string]A {
	m := make(map[string]A, len(keys))
	for i, k := range keys {
		if _, dup := m[k]; !dup {
			m[k] = args[i]
		}
	}
	return m
}

// Call returns the value of each argument that is cached or that the
// function returns. It runs the function once, under the dogpile lock,
// with the arguments whose values are missing or expired.
func (f *MultiFunc[A, R]) Call(ctx context.Context, args ...A) (map[A]R, error) {
	keys, err := f.keys(args)
	if err != nil {
		return nil, f.c.r.fail("get_or_create_multi", nil, err)
	}
	byKey := argsByKey(keys, args)
	outs, uniq, err := f.c.r.getOrCreateMulti(ctx, &f.c.cfg, keys, staleCheck[R](f.c.r.s.codec, &f.c.cfg), produceFunc(func(ctx context.Context, missing []string) ([]any, []bool, error) {
		margs := make([]A, len(missing))
		for i, k := range missing {
			margs[i] = byKey[k]
		}
		m, err := f.fn(ctx, margs)
		if err != nil {
			return nil, nil, err
		}
		values, produced := make([]any, len(margs)), make([]bool, len(margs))
		for i, a := range margs {
			if v, ok := m[a]; ok {
				values[i], produced[i] = v, true
			}
		}
		return values, produced, nil
	}))
	if err != nil {
		return nil, err
	}
	valueOf := make(map[string]R, len(uniq))
	for i, k := range uniq {
		if !outs[i].found {
			continue
		}
		v, err := decodeAs[R](f.c.r.s.codec, &outs[i].e)
		if err != nil {
			return nil, f.c.r.fail("get_or_create_multi", []string{k}, err)
		}
		valueOf[k] = v
	}
	out := make(map[A]R, len(valueOf))
	for i, a := range args {
		if v, ok := valueOf[keys[i]]; ok {
			out[a] = v
		}
	}
	return out, nil
}

// Get returns the fresh cached values of args without calling the
// function; arguments without one are left out. Unlike dogpile.cache's
// get, it honours the function's expiration options.
func (f *MultiFunc[A, R]) Get(ctx context.Context, args ...A) (map[A]R, error) {
	keys, err := f.keys(args)
	if err != nil {
		return nil, f.c.r.fail("get_multi", nil, err)
	}
	vals, err := getMulti[R](ctx, f.c.r, &f.c.cfg, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[A]R, len(vals))
	for i, a := range args {
		if v, ok := vals[keys[i]]; ok {
			out[a] = v
		}
	}
	return out, nil
}

// Set stores each value as the function's result for its argument, in one
// backend call.
func (f *MultiFunc[A, R]) Set(ctx context.Context, values map[A]R) error {
	if f.c.cfg.err != nil {
		return f.c.r.fail("set_multi", nil, f.c.cfg.err)
	}
	args := make([]A, 0, len(values))
	for a := range values {
		args = append(args, a)
	}
	keys, err := f.keys(args)
	if err != nil {
		return f.c.r.fail("set_multi", nil, err)
	}
	m := make(map[string]any, len(keys))
	for i, k := range keys {
		m[k] = values[args[i]]
	}
	return f.c.r.SetMulti(ctx, m)
}

// Invalidate deletes the cached values of args in one backend call.
func (f *MultiFunc[A, R]) Invalidate(ctx context.Context, args ...A) error {
	if f.c.cfg.err != nil {
		return f.c.r.fail("delete_multi", nil, f.c.cfg.err)
	}
	keys, err := f.keys(args)
	if err != nil {
		return f.c.r.fail("delete_multi", nil, err)
	}
	return f.c.r.DeleteMulti(ctx, keys)
}

// Refresh runs the function now with every argument (without duplicates),
// without the dogpile lock, stores the values it returns (subject to
// ShouldCache) and returns them. Entries of its map for arguments not
// asked for are ignored.
func (f *MultiFunc[A, R]) Refresh(ctx context.Context, args ...A) (map[A]R, error) {
	if f.c.cfg.err != nil {
		return nil, f.c.r.fail("refresh", nil, f.c.cfg.err)
	}
	keys, err := f.keys(args)
	if err != nil {
		return nil, f.c.r.fail("refresh", nil, err)
	}
	if _, err := f.c.r.configured("refresh", keys); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(keys))
	var uargs []A
	var ukeys []string
	for i, k := range keys {
		if !seen[k] {
			seen[k] = true
			uargs, ukeys = append(uargs, args[i]), append(ukeys, k)
		}
	}
	if len(uargs) == 0 {
		return map[A]R{}, nil
	}
	m, err := f.fn(ctx, uargs)
	if err != nil {
		return nil, f.c.r.fail("refresh", ukeys, fmt.Errorf("creator: %w", err))
	}
	out := make(map[A]R, len(uargs))
	store := make(map[string]any, len(uargs))
	for j, a := range uargs {
		v, ok := m[a]
		if !ok {
			continue
		}
		out[a] = v
		if f.c.cfg.shouldCache == nil || f.c.cfg.shouldCache(v) {
			store[ukeys[j]] = v
		}
	}
	if err := f.c.r.SetMulti(ctx, store); err != nil {
		return nil, err
	}
	return out, nil
}
