package pongo2ext

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/tmplcache"
)

var (
	// ErrExpires is the cause of the execution error of a block whose
	// expires= expression gives something else than a positive whole
	// number of seconds or -1 (see the package documentation).
	ErrExpires = errors.New("pongo2ext: invalid expires= value")
	// ErrTags is the cause of the execution error of a block whose tags=
	// or tag= expression gives something else than a string or a list of
	// strings, or an empty string.
	ErrTags = errors.New("pongo2ext: invalid tags= value")
)

// shouldCache evaluates if= and unless=.
func (b *block) shouldCache(ec *pongo2.ExecutionContext) (bool, *pongo2.Error) {
	if b.ifExpr != nil {
		v, err := b.ifExpr.Evaluate(ec)
		if err != nil {
			return false, err
		}
		if !v.IsTrue() {
			return false, nil
		}
	}
	if b.unlessExpr != nil {
		v, err := b.unlessExpr.Evaluate(ec)
		if err != nil {
			return false, err
		}
		if v.IsTrue() {
			return false, nil
		}
	}
	return true, nil
}

// options evaluates where and how long the block is cached.
func (b *block) options(ec *pongo2.ExecutionContext) (tmplcache.RenderOptions, *pongo2.Error) {
	o := tmplcache.RenderOptions{Region: b.region, Expires: b.expires.fixed}
	if b.expires.expr == nil {
		return o, nil
	}
	v, perr := b.expires.expr.Evaluate(ec)
	if perr != nil {
		return o, perr
	}
	d, err := expiresValue(v.Interface())
	if err != nil {
		return o, ec.OrigError(fmt.Errorf("%w: %s: %w", ErrExpires, b.describe(), err), b.expires.expr.GetPositionToken())
	}
	o.Expires = d
	return o, nil
}

// expiresValue reads an evaluated expires=: an integer number of seconds
// of any Go integer type, a float holding a whole number (as JSON
// numbers decode), or a time.Duration taken as it is (positive, or
// dogpile.NoExpiration).
func expiresValue(x any) (time.Duration, error) {
	const want = "want a positive whole number of seconds, or -1 for never"
	if d, ok := x.(time.Duration); ok {
		if d > 0 || d == dogpile.NoExpiration {
			return d, nil
		}
		return 0, fmt.Errorf("expires= is the time.Duration %v: want a positive duration, or dogpile.NoExpiration for never", d)
	}
	var secs int64
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Invalid:
		return 0, fmt.Errorf("expires= is nil (an undefined variable?): %s", want)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		secs = v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if v.Uint() > uint64(maxSeconds) {
			return 0, fmt.Errorf("expires= is %d, out of range", v.Uint())
		}
		secs = int64(v.Uint())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("expires= is %v, not a whole number: %s", f, want)
		}
		if math.Abs(f) > float64(maxSeconds) {
			return 0, fmt.Errorf("expires= is %v, out of range", f)
		}
		secs = int64(f)
	case reflect.String:
		return 0, fmt.Errorf("expires= is the string %q: %s (an integer, not text)", v.String(), want)
	default:
		return 0, fmt.Errorf("expires= is %v, of type %T: %s", x, x, want)
	}
	d, msg := expiration(secs)
	if msg != "" {
		return 0, fmt.Errorf("expires= is %d, which %s", secs, msg)
	}
	return d, nil
}

// evalTags evaluates tags= and every tag= into tags.
func (b *block) evalTags(ec *pongo2.ExecutionContext, tags []string) ([]string, *pongo2.Error) {
	for _, e := range b.tags {
		v, perr := e.Evaluate(ec)
		if perr != nil {
			return nil, perr
		}
		var err error
		if tags, err = appendTags(tags, v.Interface()); err != nil {
			return nil, ec.OrigError(fmt.Errorf("%w: %s: %w", ErrTags, b.describe(), err), e.GetPositionToken())
		}
	}
	return tags, nil
}

// appendTags appends the tags x holds: a string, or a slice or array of
// strings (also as pongo2 values).
func appendTags(tags []string, x any) ([]string, error) {
	if pv, ok := x.(*pongo2.Value); ok {
		x = pv.Interface()
	}
	switch x := x.(type) {
	case string:
		if x == "" {
			return tags, errors.New("a tag is empty")
		}
		return append(tags, x), nil
	case []string:
		for _, t := range x {
			if t == "" {
				return tags, errors.New("a tag is empty")
			}
		}
		return append(tags, x...), nil
	case nil:
		return tags, errors.New("tags are nil (an undefined variable?): want a string or a list of strings")
	}
	v := reflect.ValueOf(x)
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return tags, fmt.Errorf("%v, of type %T, is not a string or a list of strings", x, x)
	}
	for i := range v.Len() {
		e := v.Index(i).Interface()
		if pv, ok := e.(*pongo2.Value); ok {
			e = pv.Interface()
		}
		s, ok := e.(string)
		if !ok {
			return tags, fmt.Errorf("element %d, %v of type %T, is not a string", i, e, e)
		}
		if s == "" {
			return tags, errors.New("a tag is empty")
		}
		tags = append(tags, s)
	}
	return tags, nil
}

// describe names the block's fragment in errors.
func (b *block) describe() string {
	return fmt.Sprintf("fragment %q", b.name)
}

// keyFuncs keeps a block's key function (tmplcache.Cache.KeyFunc) for the
// Cache it last executed with.
type keyFuncs struct{ p atomic.Pointer[boundKeyFunc] }

type boundKeyFunc struct {
	c  *tmplcache.Cache
	fn func(escape string, vary ...any) (string, error)
}

// fullKey sets f.FullKey to the key of f, a fragment of the block, in c.
func (b *block) fullKey(c *tmplcache.Cache, f *tmplcache.Fragment) error {
	k := b.keys.p.Load()
	if k == nil || k.c != c {
		k = &boundKeyFunc{c: c, fn: c.KeyFunc(tmplcache.Declaration{Template: b.template, Name: b.name, Digest: b.digest, Region: b.region})}
		b.keys.p.Store(k)
	}
	key, err := k.fn(f.Escape, f.Vary...)
	f.FullKey = key
	return err
}
