package dogpile

// The read step, shared by every read path: one backend read, then what
// the value found is worth to the call.

import (
	"context"
	"reflect"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

// freshness is what a value read from the backend is worth to a call.
type freshness uint8

const (
	absent freshness = iota // no usable value
	stale                   // usable, but expired or soft invalidated
	fresh
)

// expirationFor returns the expiration that applies to a value created
// at ct for this call: zero for never.
func (st *regionState) expirationFor(c *callConfig, ct time.Time) time.Duration {
	exp := c.expiration
	if c.expirationFunc != nil {
		exp = c.expirationFunc(ct)
	}
	switch {
	case exp == 0:
		return st.expiration
	case exp < 0:
		return 0
	}
	return exp
}

// classify says what e, read at time now (unix nanoseconds), is worth to
// a call configured by c.
func (st *regionState) classify(c *callConfig, e *entry, found bool, now int64) freshness {
	if !found || e.Metadata.Version != driver.ValueVersion {
		return absent
	}
	if c.ignoreExpiry {
		return fresh
	}
	ct := e.Metadata.CreatedAt
	var retired, hard bool
	if li, ok := st.inv.(*localInvalidation); ok { // the default: no interface call
		retired, hard = li.Invalidated(ct)
	} else {
		retired, hard = st.inv.Invalidated(ct)
	}
	if retired {
		if hard {
			return absent
		}
		return stale
	}
	if exp := st.expirationFor(c, ct); exp > 0 && now-ct.UnixNano() > int64(exp) {
		return stale
	}
	return fresh
}

// probe is what the read step found for one key.
type probe struct {
	st       *regionState
	mangled  string
	e        entry
	found    bool
	fr       freshness
	err      error // a read error, after fail-open
	snapshot uint64
	start    time.Time // for observers; zero when nobody observes
	// failed reports a read that failed and was absorbed (WithFailOpen).
	failed bool
	// memo is the entry's Memo on a near cache, and memoV the value it
	// holds, decoded as a memoT by an earlier hit.
	memo  *driver.Memo
	memoT reflect.Type
	memoV any
}

// read is the read step for one key: it fills p and reports whether the
// call is answered by a fresh value.
func (r *Region) read(ctx context.Context, c *callConfig, op observe.Op, key string, p *probe) bool {
	if c.err != nil {
		p.err = r.fail(op.String(), []string{key}, c.err)
		return false
	}
	st := r.state.Load()
	if st == nil {
		p.err = r.fail(op.String(), []string{key}, ErrNotConfigured)
		return false
	}
	p.st = st
	p.start = st.observeStart(ctx)
	p.snapshot = r.completions.Load()
	p.mangled = r.mangle(key)
	var err error
	if r.s.failOpen {
		err = st.loadBounded(ctx, p)
	} else {
		err = st.loadProbe(ctx, p)
	}
	if err != nil {
		p.found = false
		if p.err = st.readError(ctx, op, []string{key}, err); p.err == nil {
			p.failed = true // absorbed: the creation skips the backend's lock
		}
		return false
	}
	p.fr = st.classify(c, &p.e, p.found, r.s.nanotime())
	return p.fr == fresh
}

// loadProbe reads p's key into p.
func (st *regionState) loadProbe(ctx context.Context, p *probe) error {
	var err error
	switch {
	case st.values != nil: // read in place: one copy of the value fewer
		p.e, p.found, err = st.values.Get(ctx, p.mangled)
	case st.near != nil:
		err = st.loadNear(ctx, p.mangled, p)
	default:
		p.e, p.found, err = st.load(ctx, p.mangled, false)
	}
	return err
}

// loadBounded is loadProbe for a region that fails open: a caller with a
// deadline gives the backend at most half of the time it has left, so
// that the creator has the other half when the backend stalls.
func (st *regionState) loadBounded(ctx context.Context, p *probe) error {
	bctx, cancel := backendContext(ctx)
	defer cancel()
	return st.loadProbe(bctx, p)
}

// backendContext bounds a fail-open region's backend call to half of the
// time ctx has left, if it has a deadline.
func backendContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
}

// readAll is the read step for several keys, one backend call for all.
// It returns what was found and each value's worth, and whether a read
// error was absorbed (WithFailOpen), or the cause of a failure (the caller
// wraps it in its *Error); keys is never empty.
func (r *Region) readAll(ctx context.Context, st *regionState, c *callConfig, op observe.Op, keys, mangled []string, validate bool) ([]entry, []freshness, bool, error) {
	var es []entry
	var err error
	failed := false
	if r.s.failOpen {
		var cancel context.CancelFunc
		ctx, cancel = backendContext(ctx)
		defer cancel()
	}
	if st.near != nil && validate { // a creation's re-read: past the near cache
		var raw [][]byte
		if raw, err = st.near.GetBytesDirect(ctx, mangled); err == nil {
			es, err = st.decodeAll(mangled, raw, validate)
		}
	} else if op == observe.OpGetOrCreate { // the re-read of a single-key creation
		var e entry
		if e, _, err = st.load(ctx, mangled[0], validate); err == nil {
			es = []entry{e}
		}
	} else {
		es, err = st.loadAll(ctx, mangled, validate)
	}
	if err != nil {
		if err = st.readFailure(ctx, op, keys, err); err != nil {
			return nil, nil, false, err
		}
		es = make([]entry, len(keys)) // failing open: all missing
		failed = true
	}
	fr := make([]freshness, len(keys))
	now := r.s.nanotime()
	for i := range es {
		fr[i] = st.classify(c, &es[i], present(&es[i]), now)
	}
	return es, fr, failed, nil
}

// callConfig returns the configuration of a call with opts: the
// region's, or the cached function's base, with opts applied. Without
// opts it returns base itself, shared and read only, so that a call
// without options allocates nothing.
func callConfigFor(base *callConfig, opts []CallOption) *callConfig {
	if len(opts) == 0 {
		return base
	}
	c := new(callConfig)
	*c = *base
	for _, o := range opts {
		if o == nil {
			c.invalid("CallOption", "nil option")
			continue
		}
		o(c)
	}
	return c
}

// Get returns the value under key and whether there is a fresh one: not
// expired, not invalidated, of the current format version
// (IgnoreExpiration relaxes the first two). Get never creates. A value of
// another type than T is an error wrapping ErrTypeMismatch; T may be any
// for values of any type.
func Get[T any](ctx context.Context, r *Region, key string, opts ...CallOption) (T, bool, error) {
	return get[T](ctx, r, callConfigFor(&r.s.defaults, opts), key)
}

func get[T any](ctx context.Context, r *Region, c *callConfig, key string) (T, bool, error) {
	var zero T
	var p probe
	ok := r.read(ctx, c, observe.OpGet, key, &p)
	if p.err != nil {
		if p.st != nil {
			p.st.observe1(ctx, observe.OpGet, key, observe.Error, p.start, -1, p.err)
		}
		return zero, false, p.err
	}
	if !ok {
		p.st.observe1(ctx, observe.OpGet, key, observe.Miss, p.start, -1, nil)
		return zero, false, nil
	}
	v, err := decodeAs[T](r.s.codec, &p.e)
	if err != nil {
		if p.st.undecodable(key, err) {
			p.st.observe1(ctx, observe.OpGet, key, observe.Miss, p.start, -1, nil)
			return zero, false, nil
		}
		err = r.fail("get", []string{key}, err)
		p.st.observe1(ctx, observe.OpGet, key, observe.Error, p.start, sizeOf(&p.e), err)
		return zero, false, err
	}
	if c.staleIf != nil && staleValue(c, &p.e, v) {
		p.st.observe1(ctx, observe.OpGet, key, observe.Miss, p.start, -1, nil)
		return zero, false, nil
	}
	p.st.observe1(ctx, observe.OpGet, key, observe.Hit, p.start, sizeOf(&p.e), nil)
	return v, true, nil
}

// GetMulti returns the fresh values under keys, under the rules of Get,
// read in one backend call. Keys without a fresh value are not in the
// map.
func GetMulti[T any](ctx context.Context, r *Region, keys []string, opts ...CallOption) (map[string]T, error) {
	return getMulti[T](ctx, r, callConfigFor(&r.s.defaults, opts), keys)
}

func getMulti[T any](ctx context.Context, r *Region, c *callConfig, keys []string) (map[string]T, error) {
	if c.err != nil {
		return nil, r.fail("get_multi", keys, c.err)
	}
	st, err := r.configured("get_multi", keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	start := st.observeStart(ctx)
	es, fr, _, err := r.readAll(ctx, st, c, observe.OpGetMulti, keys, r.mangleAll(keys), false)
	if err != nil {
		err = r.fail("get_multi", keys, err)
		st.observe(ctx, observe.OpGetMulti, keys, nil, start, -1, err)
		return nil, err
	}
	var results []observe.Result
	if !start.IsZero() {
		results = make([]observe.Result, len(keys))
	}
	size := -1
	for i, k := range keys {
		res := observe.Miss
		if fr[i] == fresh {
			v, err := decodeAs[T](r.s.codec, &es[i])
			if err != nil && st.undecodable(k, err) {
				if results != nil {
					results[i] = observe.Miss
				}
				continue
			}
			if err != nil {
				err = r.fail("get_multi", []string{k}, err)
				st.observe(ctx, observe.OpGetMulti, keys, nil, start, -1, err)
				return nil, err
			}
			if c.staleIf != nil && staleValue(c, &es[i], v) {
				if results != nil {
					results[i] = observe.Miss
				}
				continue
			}
			out[k] = v
			res = observe.Hit
			if s := sizeOf(&es[i]); s >= 0 {
				size = max(size, 0) + s
			}
		}
		if results != nil {
			results[i] = res
		}
	}
	st.observe(ctx, observe.OpGetMulti, keys, results, start, size, nil)
	return out, nil
}
