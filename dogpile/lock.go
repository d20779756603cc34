package dogpile

// The dogpile lock. For one key, one caller (the creator) regenerates a
// missing or expired value; while it works, callers that found an expired
// value are served that value at once, and callers that found none wait for
// the creator's result. In one process the callers coalesce on a flight (an
// in-process lock per key, as singleflight does); only the flight's creator
// touches the backend's distributed Mutex, if the backend has one.
//
// The creation runs on its own goroutine under context.WithoutCancel of the
// caller that started it, so every caller, that one included, can stop
// waiting when its context ends while the creation goes on for the others.

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// flight is one creation under way for one key.
type flight struct {
	done chan struct{}
	cv   CachedValue
	res  Result
	err  error
	// panicked holds a creator's panic value, re-raised in the starter.
	panicked any
	// starter: starterWaiting until the caller that started the creation
	// stops waiting (starterGone) or the result is handed over (delivered).
	starter atomic.Int32
}

const (
	starterWaiting int32 = iota
	starterGone
	delivered
)

type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

// join returns the flight for key and whether the caller leads it (a new
// flight was started).
func (g *flightGroup) join(key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, false
	}
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

func (g *flightGroup) active(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.m[key]
	return ok
}

// finish publishes the result and ends the flight. It reports whether the
// starter had already stopped waiting.
func (g *flightGroup) finish(key string, f *flight, cv CachedValue, res Result, err error, panicked any) (starterGone bool) {
	f.cv, f.res, f.err, f.panicked = cv, res, err, panicked
	g.mu.Lock()
	if g.m[key] == f {
		delete(g.m, key)
	}
	g.mu.Unlock()
	gone := !f.starter.CompareAndSwap(starterWaiting, delivered)
	close(f.done)
	return gone
}

// await waits for f or for ctx. The starter re-raises a creator's panic;
// other callers get ErrCreatorPanicked.
func await(ctx context.Context, key string, f *flight, starter bool) (CachedValue, Result, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		if !starter || f.starter.CompareAndSwap(starterWaiting, starterGone) {
			return CachedValue{}, ResultError, fmt.Errorf("dogpile: waiting for %q: %w", key, ctx.Err())
		}
		<-f.done // the result was handed over as ctx ended
	}
	if f.panicked != nil {
		if starter {
			panic(f.panicked)
		}
		return CachedValue{}, ResultError, fmt.Errorf("%w: creating %q: %v", ErrCreatorPanicked, key, f.panicked)
	}
	res := f.res
	if !starter && res == ResultCreated {
		res = ResultWaited
	}
	return f.cv, res, f.err
}

// creation is the work of one flight's creator: take the distributed lock,
// re-read when needed, create, store, release.
type creation struct {
	r        *Region
	st       *regionState
	ctx      context.Context // the starter's, for values and observation
	keys     []string        // as the caller gave them
	mangled  []string
	found    []CachedValue // what the starter read
	fresh    []freshness
	c        *callConfig
	noStale  bool
	snapshot uint64 // r.completions before the starter's read
	flights  []*flight
	create   func(ctx context.Context, keys []string) ([]any, error)
	// single is set for GetOrCreate, whose creator takes no keys.
	single func(ctx context.Context) (any, error)
}

// run performs the creation and publishes its result to every flight. A
// creator panic is published too, then re-raised here if the starter is no
// longer waiting for it (or never was, in the async runner).
func (t *creation) run() {
	ctx := context.WithoutCancel(t.ctx)
	if t.r.creationTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.r.creationTimeout)
		defer cancel()
	}
	var (
		cvs     []CachedValue
		results []Result
		err     error
	)
	defer func() {
		p := recover()
		if p != nil {
			t.r.logger.Error("dogpile: creator panicked", "region", t.r.name, "keys", t.keys, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrCreatorPanicked, p)
		}
		// The starter waits on flights[0]: finish it last, so that every
		// other flight's result is published when it wakes.
		gone := false
		for i := len(t.flights) - 1; i >= 0; i-- {
			var cv CachedValue
			res := ResultError
			if err == nil {
				cv, res = cvs[i], results[i]
			}
			gone = t.r.flights.finish(t.mangled[i], t.flights[i], cv, res, err, p)
		}
		if p != nil && gone {
			panic(p)
		}
	}()
	cvs, results, err = t.do(ctx)
}

func (t *creation) do(ctx context.Context) ([]CachedValue, []Result, error) {
	r, st := t.r, t.st
	n := len(t.keys)
	cvs := slices.Clone(t.found)
	results := make([]Result, n)
	todo := make([]bool, n) // keys still to create
	for i := range todo {
		todo[i] = true
	}

	// The distributed lock, taken in mangled-key order so that multi calls
	// of several processes cannot deadlock.
	locked := false
	if st.locker != nil {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(t.mangled[a], t.mangled[b]) })
		for _, i := range order {
			m := st.locker.Mutex(t.mangled[i])
			if m == nil {
				continue
			}
			wait := t.fresh[i] == absent || t.noStale
			start := time.Now()
			got, err := m.Acquire(ctx, wait)
			if err != nil {
				if !r.failOpen {
					return nil, nil, fmt.Errorf("dogpile: lock %q: %w", t.keys[i], err)
				}
				r.logger.Warn("dogpile: lock failed; creating without it", "region", r.name, "key", t.keys[i], "err", err)
				r.observeErr(t.ctx, st, OpLockWait, t.keys[i:i+1], err)
				continue
			}
			if !got && wait {
				return nil, nil, fmt.Errorf("dogpile: lock %q: backend lock not acquired", t.keys[i])
			}
			if !got {
				// Another process regenerates it: serve the stale value.
				todo[i], results[i] = false, ResultStale
				continue
			}
			defer t.release(m, t.keys[i])
			locked = true
			if wait {
				r.observe1(t.ctx, st, OpLockWait, t.keys[i], ResultNone, start, -1, nil)
			}
		}
	}

	// Re-read when someone may have created meanwhile: another process,
	// whose lock this one now holds, or a creation finished in this process
	// since the starter's read. With the in-process lock alone and nothing
	// finished meanwhile, the backend is read once per call.
	if locked || r.completions.Load() != t.snapshot {
		if err := t.recheck(ctx, cvs, results, todo); err != nil {
			return nil, nil, err
		}
	}

	var keys, mangled []string
	var idx []int
	for i := range todo {
		if todo[i] {
			keys, mangled, idx = append(keys, t.keys[i]), append(mangled, t.mangled[i]), append(idx, i)
		}
	}
	if len(keys) == 0 {
		return cvs, results, nil
	}

	start := r.observeStart(t.ctx)
	values, err := t.call(ctx, keys)
	if err == nil && len(values) != len(keys) {
		err = fmt.Errorf("%w: %d values for %d keys", ErrCreatorLength, len(values), len(keys))
	}
	var took time.Duration
	if !start.IsZero() {
		took = time.Since(start)
	}
	if err != nil {
		r.observeCreate(t.ctx, st, keys, took, -1, err)
		return nil, nil, err
	}

	now := r.now()
	var storeKeys []string
	var storeVals []CachedValue
	for j, v := range values {
		i := idx[j]
		cvs[i], results[i] = NewCachedValue(v, now), ResultCreated
		if t.c.shouldCache == nil || t.c.shouldCache(v) {
			storeKeys, storeVals = append(storeKeys, mangled[j]), append(storeVals, cvs[i])
		}
	}
	var (
		size int
		werr error
	)
	if len(storeKeys) == 1 && n == 1 {
		size, werr = r.store(ctx, st, storeKeys[0], storeVals[0])
	} else {
		size, werr = r.storeMulti(ctx, st, storeKeys, storeVals)
	}
	// The creation's event carries the creator's time and the bytes its
	// values took in the backend.
	r.observeCreate(t.ctx, st, keys, took, size, nil)
	if werr = r.writeError(t.ctx, st, OpSet, keys, werr); werr != nil {
		return nil, nil, werr
	}
	r.completions.Add(1)
	return cvs, results, nil
}

// observeCreate reports a creation: created keys, or errors.
func (r *Region) observeCreate(ctx context.Context, st *regionState, keys []string, took time.Duration, size int, err error) {
	if !r.observing(ctx) {
		return
	}
	res := make([]Result, len(keys))
	for i := range res {
		res[i] = ResultCreated
		if err != nil {
			res[i] = ResultError
		}
	}
	r.observer.Observe(ctx, Event{
		Region: r.name, Backend: st.backendName, Op: OpCreate, Keys: keys, Results: res,
		Duration: took, Size: size, Err: err,
	})
}

func (t *creation) call(ctx context.Context, keys []string) ([]any, error) {
	var (
		values []any
		err    error
	)
	if t.single != nil {
		var v any
		v, err = t.single(ctx)
		values = []any{v}
	} else {
		values, err = t.create(ctx, keys)
	}
	if err != nil {
		return nil, fmt.Errorf("dogpile: creating %q: %w", keys, err)
	}
	return values, nil
}

func (t *creation) recheck(ctx context.Context, cvs []CachedValue, results []Result, todo []bool) error {
	r, st := t.r, t.st
	var keys []string
	var idx []int
	for i := range todo {
		if todo[i] {
			keys, idx = append(keys, t.mangled[i]), append(idx, i)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	var again []CachedValue
	var err error
	if len(keys) == 1 {
		cv, ok, lerr := r.load(ctx, st, keys[0])
		if !ok {
			cv = CachedValue{}
		}
		again, err = []CachedValue{cv}, lerr
	} else {
		again, err = r.loadMulti(ctx, st, keys)
	}
	if err = r.readError(t.ctx, st, OpGet, keys, err); err != nil {
		return err
	}
	for j, cv := range again {
		if cv.IsZero() {
			continue
		}
		i := idx[j]
		if r.classify(st, t.c, cv, true) == fresh {
			cvs[i], results[i], todo[i] = cv, ResultWaited, false
		}
	}
	return nil
}

func (t *creation) release(m Mutex, key string) {
	// Release even when the creation's deadline has passed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 5*time.Second)
	defer cancel()
	if err := m.Release(ctx); err != nil {
		level := "dogpile: releasing lock failed"
		if errors.Is(err, ErrLockLost) {
			level = "dogpile: lock expired before the creator finished; value kept"
		}
		t.r.logger.Warn(level, "region", t.r.name, "key", key, "err", err)
		t.r.observeErr(t.ctx, t.st, OpLockWait, []string{key}, err)
	}
}

// GetOrCreate returns the value under key, calling creator to make it when
// it is missing or expired, under the dogpile lock: one caller creates while
// the others wait for it (no value) or are served the expired value. The
// creator's error is returned to every caller that waited on it and is not
// cached. For values of a known type, use the generic GetOrCreate.
func (r *Region) GetOrCreate(ctx context.Context, key string, creator func(context.Context) (any, error), opts ...CallOption) (any, error) {
	cv, err := r.getOrCreate(ctx, key, creator, newCallConfig(opts))
	if err != nil {
		return nil, err
	}
	return r.decodeAny(cv)
}

// defaultCall is the configuration of a call without options; read only.
var defaultCall callConfig

// newCallConfig applies opts to a configuration; none gives defaultCall.
func newCallConfig(opts []CallOption) *callConfig {
	if len(opts) == 0 {
		return &defaultCall
	}
	c := &callConfig{}
	for _, o := range opts {
		o(c)
	}
	return c
}

// GetOrCreate is the typed form of Region.GetOrCreate. A value of another
// type under key is an error wrapping ErrTypeMismatch. A fresh hit on a
// ValueBackend allocates nothing when no options are given.
func GetOrCreate[T any](ctx context.Context, r *Region, key string, creator func(context.Context) (T, error), opts ...CallOption) (T, error) {
	c := newCallConfig(opts)
	var p probe
	if v, done, err := lookupFresh[T](ctx, r, c, key, &p); done {
		return v, err
	}
	return createAfter[T](ctx, r, c, key, &p, func(ctx context.Context) (any, error) { return creator(ctx) })
}

// probe is what the hit path read, handed to the creation on a miss so the
// backend is read once per call.
type probe struct {
	st       *regionState // nil: take the general path
	mangled  string
	cv       CachedValue
	ok       bool
	err      error
	snapshot uint64
	start    time.Time // for observers; zero when nobody observes
}

// lookupFresh is the typed hit path: one backend read, no lock and, on a
// ValueBackend, no allocation when nobody observes the call. done reports
// that v and err are the answer; otherwise p holds what was read, for
// createAfter.
func lookupFresh[T any](ctx context.Context, r *Region, c *callConfig, key string, p *probe) (v T, done bool, err error) {
	st := r.state.Load()
	if st == nil {
		return v, false, nil
	}
	p.start = r.observeStart(ctx)
	p.st, p.snapshot, p.mangled = st, r.completions.Load(), r.mangle(key)
	if st.values != nil { // read directly: one copy of the value fewer
		p.cv, p.ok, p.err = st.values.Get(ctx, p.mangled)
	} else {
		p.cv, p.ok, p.err = r.load(ctx, st, p.mangled)
	}
	if p.err == nil && r.classify(st, c, p.cv, p.ok) == fresh {
		v, err = decodeAs[T](r, p.cv)
		if !p.start.IsZero() {
			r.observe1(ctx, st, OpGetOrCreate, key, ResultHit, p.start, p.cv.Size(), nil)
		}
		return v, true, err
	}
	return v, false, nil
}

// createAfter completes a call that lookupFresh did not answer, under the
// dogpile lock. The creator is built by the caller only on this path, so a
// hit does not allocate it.
func createAfter[T any](ctx context.Context, r *Region, c *callConfig, key string, p *probe, creator func(context.Context) (any, error)) (T, error) {
	var (
		cv  CachedValue
		err error
	)
	if p.st == nil {
		cv, err = r.getOrCreate(ctx, key, creator, c)
	} else {
		cv, err = r.getOrCreateSlow(ctx, p.st, key, p.mangled, p.cv, p.ok, p.err, p.snapshot, creator, c, p.start)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeAs[T](r, cv)
}

func (r *Region) getOrCreate(ctx context.Context, key string, creator func(context.Context) (any, error), c *callConfig) (CachedValue, error) {
	st, err := r.configured()
	if err != nil {
		return CachedValue{}, err
	}
	start := r.observeStart(ctx)
	snapshot := r.completions.Load()
	k := r.mangle(key)
	cv, ok, err := r.load(ctx, st, k)
	if err == nil && r.classify(st, c, cv, ok) == fresh {
		r.observe1(ctx, st, OpGetOrCreate, key, ResultHit, start, cv.Size(), nil)
		return cv, nil
	}
	return r.getOrCreateSlow(ctx, st, key, k, cv, ok, err, snapshot, creator, c, start)
}

// getOrCreateSlow completes a GetOrCreate whose read (started at start, for
// observers) found no fresh value.
func (r *Region) getOrCreateSlow(ctx context.Context, st *regionState, key, k string, cv CachedValue, ok bool, err error,
	snapshot uint64, creator func(context.Context) (any, error), c *callConfig, start time.Time) (CachedValue, error) {
	if err = r.readError(ctx, st, OpGetOrCreate, []string{key}, err); err != nil {
		r.observe1(ctx, st, OpGetOrCreate, key, ResultError, start, -1, err)
		return CachedValue{}, err
	}
	fr := r.classify(st, c, cv, ok)
	if fr == fresh { // only after a read error absorbed by fail-open
		fr = absent
	}
	noStale := r.noStale || c.waitForFresh
	f, leader := r.flights.join(k)
	var res Result
	switch {
	case !leader && fr == stale && !noStale:
		res = ResultStale
	case !leader:
		cv, res, err = await(ctx, key, f, false)
	default:
		t := &creation{
			r: r, st: st, ctx: ctx, keys: []string{key}, mangled: []string{k},
			found: []CachedValue{cv}, fresh: []freshness{fr}, c: c, noStale: noStale,
			snapshot: snapshot, flights: []*flight{f}, single: creator,
		}
		if fr == stale && !noStale && r.async != nil {
			f.starter.Store(starterGone) // nobody waits: a panic is re-raised in the task
			r.async(key, t.run)
			res = ResultStale
			break
		}
		go t.run()
		cv, res, err = await(ctx, key, f, true)
	}
	if err != nil {
		cv = CachedValue{}
	}
	r.observe1(ctx, st, OpGetOrCreate, key, res, start, cv.Size(), err)
	return cv, err
}

// GetOrCreateMulti is GetOrCreate for several keys: one backend read for
// all, then one creator call with the keys that are missing or expired (in
// the caller's order, without duplicates), and one write. It returns one
// value per key, in order.
func (r *Region) GetOrCreateMulti(ctx context.Context, keys []string, creator func(ctx context.Context, keys []string) ([]any, error), opts ...CallOption) ([]any, error) {
	cvs, err := r.getOrCreateMulti(ctx, keys, creator, opts)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(cvs))
	for i, cv := range cvs {
		if out[i], err = r.decodeAny(cv); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetOrCreateMulti is the typed form of Region.GetOrCreateMulti.
func GetOrCreateMulti[T any](ctx context.Context, r *Region, keys []string, creator func(ctx context.Context, keys []string) ([]T, error), opts ...CallOption) ([]T, error) {
	cvs, err := r.getOrCreateMulti(ctx, keys, func(ctx context.Context, keys []string) ([]any, error) {
		vs, err := creator(ctx, keys)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(vs))
		for i, v := range vs {
			out[i] = v
		}
		return out, nil
	}, opts)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(cvs))
	for i, cv := range cvs {
		if out[i], err = decodeAs[T](r, cv); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *Region) getOrCreateMulti(ctx context.Context, keys []string, creator func(context.Context, []string) ([]any, error), opts []CallOption) ([]CachedValue, error) {
	st, err := r.configured()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return []CachedValue{}, nil
	}
	var c callConfig
	for _, o := range opts {
		o(&c)
	}
	start := r.observeStart(ctx)

	// Unique keys in the caller's order.
	pos := make(map[string]int, len(keys))
	var uniq []string
	for _, k := range keys {
		if _, dup := pos[k]; !dup {
			pos[k] = len(uniq)
			uniq = append(uniq, k)
		}
	}
	mangled := r.mangleAll(uniq)
	snapshot := r.completions.Load()
	found, err := r.loadMulti(ctx, st, mangled)
	if err = r.readError(ctx, st, OpGetOrCreateMulti, keys, err); err != nil {
		r.observeN(ctx, st, OpGetOrCreateMulti, keys, nil, start, -1, err)
		return nil, err
	}
	if found == nil {
		found = make([]CachedValue, len(uniq))
	}

	vals := make([]CachedValue, len(uniq))
	results := make([]Result, len(uniq))
	noStale := r.noStale || c.waitForFresh
	t := &creation{r: r, st: st, ctx: ctx, c: &c, noStale: noStale, snapshot: snapshot, create: creator}
	var led []int // positions in uniq this call creates
	type waiting struct {
		i int
		f *flight
	}
	var waits []waiting
	for i, cv := range found {
		fr := r.classify(st, &c, cv, !cv.IsZero())
		if fr == fresh {
			vals[i], results[i] = cv, ResultHit
			continue
		}
		f, leader := r.flights.join(mangled[i])
		switch {
		case leader:
			led = append(led, i)
			t.keys, t.mangled = append(t.keys, uniq[i]), append(t.mangled, mangled[i])
			t.found, t.fresh, t.flights = append(t.found, cv), append(t.fresh, fr), append(t.flights, f)
		case fr == stale && !noStale:
			vals[i], results[i] = cv, ResultStale
		default:
			waits = append(waits, waiting{i, f})
		}
	}

	// Create first, wait for others after: two calls leading each other's
	// keys then cannot deadlock.
	if len(led) > 0 {
		go t.run()
		if _, _, err := await(ctx, t.keys[0], t.flights[0], true); err != nil {
			r.observeN(ctx, st, OpGetOrCreateMulti, keys, nil, start, -1, err)
			return nil, err
		}
		for j, i := range led {
			vals[i], results[i] = t.flights[j].cv, t.flights[j].res
		}
	}
	for _, w := range waits {
		cv, res, err := await(ctx, uniq[w.i], w.f, false)
		if err != nil {
			r.observeN(ctx, st, OpGetOrCreateMulti, keys, nil, start, -1, err)
			return nil, err
		}
		vals[w.i], results[w.i] = cv, res
	}

	out := make([]CachedValue, len(keys))
	var perKey []Result
	if r.observing(ctx) {
		perKey = make([]Result, len(keys))
	}
	for j, k := range keys {
		out[j] = vals[pos[k]]
		if perKey != nil {
			perKey[j] = results[pos[k]]
		}
	}
	r.observeN(ctx, st, OpGetOrCreateMulti, keys, perKey, start, sizeOf(out), nil)
	return out, nil
}
