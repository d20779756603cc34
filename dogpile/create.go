package dogpile

// The dogpile lock. For one key, one caller (the creator) regenerates a
// missing or expired value; while it works, callers that found an expired
// value are served that value at once, and callers that found none wait
// for the creator's result. In one process the callers coalesce on a
// flight (internal/flight); only the flight's leader touches the backend's
// distributed Mutex, if the backend has one.
//
// The creation runs on its own goroutine under context.WithoutCancel of
// the caller that started it, so that every caller, that one included,
// can stop waiting when its context ends while the creation goes on for
// the others.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/internal/flight"
)

// outcome is what a creation publishes to the callers of one key.
type outcome struct {
	e     entry
	found bool           // false: the creation produced no value for the key
	res   observe.Result // Created, Waited (found by the re-read) or Stale
}

// maxRounds bounds how often a caller joins creations that did not
// produce its key (multi creators may leave keys out) before it gives up.
const maxRounds = 8

// producer is a creator as the create step calls it: one value per key,
// and whether it produced each.
type producer interface {
	produce(ctx context.Context, keys []string) (values []any, produced []bool, err error)
}

// produceFunc is a producer of a function.
type produceFunc func(ctx context.Context, keys []string) ([]any, []bool, error)

func (f produceFunc) produce(ctx context.Context, keys []string) ([]any, []bool, error) {
	return f(ctx, keys)
}

// single is the producer of a single-key creator. It is one pointer, so
// that making it a producer allocates nothing: a call served a stale value
// costs no allocation.
type single[T any] struct {
	create func(context.Context) (T, error)
}

func (s single[T]) produce(ctx context.Context, _ []string) ([]any, []bool, error) {
	v, err := s.create(ctx)
	return []any{v}, []bool{true}, err
}

// GetOrCreate returns the value under key, calling creator to make it
// when it is missing or expired, under the dogpile lock: one caller
// creates while the others wait for it (no value) or are served the
// expired value. The creator's error is returned to every caller that
// waited on it and is not cached. A value of another type than T under
// key is an error wrapping ErrTypeMismatch. A fresh hit on a backend that
// keeps Go values allocates nothing.
func GetOrCreate[T any](ctx context.Context, r *Region, key string, creator func(context.Context) (T, error), opts ...CallOption) (T, error) {
	c := callConfigFor(&r.s.defaults, opts)
	var p probe
	if r.read(ctx, c, observe.OpGetOrCreate, key, &p) {
		if v, done, err := hit[T](ctx, r, c, &p, key); done {
			return v, err
		}
	}
	return created[T](ctx, r, c, key, &p, single[T]{creator})
}

// hit decodes a fresh value read by the read step. A payload the codec
// cannot read is a miss: done is false, and p is left as a miss for the
// creation.
func hit[T any](ctx context.Context, r *Region, c *callConfig, p *probe, key string) (v T, done bool, err error) {
	if mv, ok := memoized[T](p); ok { // decoded by an earlier hit
		if c.staleIf != nil && c.staleIf(mv, p.e.Metadata.CreatedAt) {
			p.fr = stale
			return mv, false, nil
		}
		p.st.observe1(ctx, observe.OpGetOrCreate, key, observe.Hit, p.start, sizeOf(&p.e), nil)
		return mv, true, nil
	}
	v, err = decodeAs[T](r.s.codec, &p.e)
	if err == nil && p.memo != nil {
		keepDecoded[T](p, v)
	}
	if err != nil {
		if p.st.undecodable(key, err) {
			p.e, p.found, p.fr = entry{}, false, absent
			return v, false, nil
		}
		err = r.fail("get_or_create", []string{key}, err)
		p.st.observe1(ctx, observe.OpGetOrCreate, key, observe.Error, p.start, sizeOf(&p.e), err)
		return v, true, err
	}
	if c.staleIf != nil && staleValue(c, &p.e, v) {
		p.fr = stale // retired by the caller: regenerated as an expired value is
		return v, false, nil
	}
	p.st.observe1(ctx, observe.OpGetOrCreate, key, observe.Hit, p.start, sizeOf(&p.e), nil)
	return v, true, nil
}

// staleValue asks c's StaleIf about v, decoded from e: e's own Go value
// when it holds one, so that asking boxes nothing.
func staleValue[T any](c *callConfig, e *entry, v T) bool {
	boxed := e.Payload
	if _, raw := boxed.(*rawPayload); raw || boxed == nil {
		boxed = v
	}
	return c.staleIf(boxed, e.Metadata.CreatedAt)
}

// staleCheck returns the check, for the create step's re-read and for
// multi calls, of entries that look fresh: decoded as a T, are they stale
// by c's StaleIf? nil when c has none.
func staleCheck[T any](codec Codec, c *callConfig) func(e *entry) bool {
	if c.staleIf == nil {
		return nil
	}
	return func(e *entry) bool {
		v, err := decodeAs[T](codec, e)
		return err == nil && staleValue(c, e, v)
	}
}

// created completes a call that the read step did not answer.
func created[T any](ctx context.Context, r *Region, c *callConfig, key string, p *probe, produce producer) (T, error) {
	var zero T
	if p.err != nil {
		if p.st != nil {
			p.st.observe1(ctx, observe.OpGetOrCreate, key, observe.Error, p.start, -1, p.err)
		}
		return zero, p.err
	}
	check := staleCheck[T](r.s.codec, c)
	o, err := r.getOrCreate(ctx, c, key, p, produce, check)
	if err == nil && o.res == observe.Stale {
		// The stale value this caller read (waiters never take another's)
		// is to be served: it was not checked when read, so check it now,
		// and take part in a creation if the codec cannot read it.
		if _, derr := decodeAs[T](r.s.codec, &o.e); derr != nil && p.st.undecodable(key, derr) {
			p.e, p.found, p.fr = entry{}, false, absent
			o, err = r.getOrCreate(ctx, c, key, p, produce, check)
		}
	}
	if err == nil && !o.found {
		err = fmt.Errorf("no creation produced a value for the key in %d attempts", maxRounds)
	}
	if err != nil {
		err = r.callError("get_or_create", []string{key}, err)
		p.st.observe1(ctx, observe.OpGetOrCreate, key, observe.Error, p.start, -1, err)
		repanic(err)
		return zero, err
	}
	v, err := decodeAs[T](r.s.codec, &o.e)
	if err != nil {
		err = r.fail("get_or_create", []string{key}, err)
		o.res = observe.Error
	}
	p.st.observe1(ctx, observe.OpGetOrCreate, key, o.res, p.start, sizeOf(&o.e), err)
	return v, err
}

// getOrCreate runs the dogpile lock for the key p read. Its error is the
// cause, which the caller wraps in its own *Error; a creator's panic comes
// as such a cause (see repanic) only to the caller that led the creation.
func (r *Region) getOrCreate(ctx context.Context, c *callConfig, key string, p *probe, produce producer, check func(*entry) bool) (outcome, error) {
	noStale := c.waitForFresh
	for range maxRounds {
		call, leader := r.flights.Join(p.mangled)
		if !leader {
			if p.fr == stale && !noStale {
				return outcome{e: p.e, found: true, res: observe.Stale}, nil
			}
			o, err := call.Wait(ctx, false)
			if err != nil {
				return o, waitCause(err, false)
			}
			if !o.found || o.res == observe.Stale {
				// That creation left the key out, or served the stale value
				// its caller accepted while another process regenerates it:
				// this caller wants a fresh value, so it takes part in the
				// next creation, which waits for that process.
				continue
			}
			if o.res == observe.Created {
				o.res = observe.Waited
			}
			return o, nil
		}
		t := &creation{
			r: r, st: p.st, ctx: ctx, c: c, noStale: noStale, snapshot: p.snapshot, produce: produce, readFailed: p.failed, check: check,
			keys: []string{key}, mangled: []string{p.mangled},
			found: []entry{p.e}, fresh: []freshness{p.fr}, calls: []*flight.Call[outcome]{call},
		}
		if p.fr == stale && !noStale && r.s.async {
			call.Abandon() // nobody waits: failures are logged by the task
			go t.run()
			return outcome{e: p.e, found: true, res: observe.Stale}, nil
		}
		go t.run()
		o, err := call.Wait(ctx, true)
		if err != nil {
			return o, waitCause(err, true)
		}
		return o, nil
	}
	return outcome{}, nil
}

// waitCause is the cause of the error a caller got from a flight: the
// creation's own, or the caller's context ending while it waited. A
// creator's panic stays a panic only for the caller that led the
// creation; the others get ErrCreatorPanicked without the panic value's
// chain.
func waitCause(err error, leader bool) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if !errors.As(err, new(*creationError)) {
			return fmt.Errorf("waiting for the creation: %w", err)
		}
	}
	var pe *flight.PanicError
	if !leader && errors.As(err, &pe) {
		return fmt.Errorf("%w: %v", ErrCreatorPanicked, pe.Value)
	}
	return err
}

// callError is the *Error of a caller's operation on keys, from a cause.
func (r *Region) callError(op string, keys []string, cause error) error {
	var ce *creationError
	if errors.As(cause, &ce) {
		cause = ce.err
	}
	return r.fail(op, keys, cause)
}

// creationError is the error a creation publishes: every caller that
// waited on it wraps it in the *Error of its own operation.
type creationError struct{ err error }

func (e *creationError) Error() string { return e.err.Error() }
func (e *creationError) Unwrap() error { return e.err }

// repanic raises again, in the caller that started a creation and still
// waited for it, the panic of its creator: the value is the caller's
// *Error, which wraps ErrCreatorPanicked and holds the panic value and the
// creator's stack.
func repanic(err error) {
	if errors.As(err, new(*flight.PanicError)) {
		panic(err)
	}
}

// GetOrCreateMulti is GetOrCreate for several keys: one backend read for
// all of them, then one creator call with the keys that are missing or
// expired (in the caller's order, without duplicates), and one write. The
// creator returns the values it produced by key: keys it leaves out are
// not cached and not in the result, and keys it was not asked for are
// ignored. The result holds a value for every key found or produced.
func GetOrCreateMulti[T any](ctx context.Context, r *Region, keys []string, creator func(ctx context.Context, keys []string) (map[string]T, error), opts ...CallOption) (map[string]T, error) {
	c := callConfigFor(&r.s.defaults, opts)
	outs, uniq, err := r.getOrCreateMulti(ctx, c, keys, staleCheck[T](r.s.codec, c), produceFunc(func(ctx context.Context, keys []string) ([]any, []bool, error) {
		m, err := creator(ctx, keys)
		if err != nil {
			return nil, nil, err
		}
		values, produced := make([]any, len(keys)), make([]bool, len(keys))
		for i, k := range keys {
			if v, ok := m[k]; ok {
				values[i], produced[i] = v, true
			}
		}
		return values, produced, nil
	}))
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(uniq))
	for i, k := range uniq {
		if !outs[i].found {
			continue
		}
		v, err := decodeAs[T](r.s.codec, &outs[i].e)
		if err != nil {
			return nil, r.fail("get_or_create_multi", []string{k}, err)
		}
		out[k] = v
	}
	return out, nil
}

// getOrCreateMulti returns one outcome per unique key, in the caller's
// order, with those keys.
func (r *Region) getOrCreateMulti(ctx context.Context, c *callConfig, keys []string, check func(*entry) bool, produce producer) ([]outcome, []string, error) {
	const op = observe.OpGetOrCreateMulti
	if c.err != nil {
		return nil, nil, r.fail(op.String(), keys, c.err)
	}
	st, err := r.configured(op.String(), keys)
	if err != nil {
		return nil, nil, err
	}
	if len(keys) == 0 {
		return nil, nil, nil
	}
	start := st.observeStart(ctx)
	pos := make(map[string]int, len(keys))
	uniq := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, dup := pos[k]; !dup {
			pos[k] = len(uniq)
			uniq = append(uniq, k)
		}
	}
	mangled := r.mangleAll(uniq)
	snapshot := r.completions.Load()
	es, fr, failed, err := r.readAll(ctx, st, c, op, uniq, mangled, true)
	if err != nil {
		err = r.fail(op.String(), keys, err)
		st.observe(ctx, op, keys, nil, start, -1, err)
		return nil, nil, err
	}
	outs := make([]outcome, len(uniq))
	var pending []int
	for i := range uniq {
		if fr[i] == fresh && check != nil && check(&es[i]) {
			fr[i] = stale // retired by the caller's StaleIf
		}
		if fr[i] == fresh {
			outs[i] = outcome{e: es[i], found: true, res: observe.Hit}
		} else {
			pending = append(pending, i)
		}
	}
	noStale := c.waitForFresh
	type waiting struct {
		i    int
		call *flight.Call[outcome]
	}
	for round := 0; len(pending) > 0 && round < maxRounds; round++ {
		t := &creation{r: r, st: st, ctx: ctx, c: c, noStale: noStale, snapshot: snapshot, produce: produce, readFailed: failed, check: check}
		var led []int
		var waits []waiting
		for _, i := range pending {
			call, leader := r.flights.Join(mangled[i])
			switch {
			case leader:
				led = append(led, i)
				t.keys, t.mangled = append(t.keys, uniq[i]), append(t.mangled, mangled[i])
				t.found, t.fresh, t.calls = append(t.found, es[i]), append(t.fresh, fr[i]), append(t.calls, call)
			case fr[i] == stale && !noStale:
				outs[i] = outcome{e: es[i], found: true, res: observe.Stale}
			default:
				waits = append(waits, waiting{i, call})
			}
		}
		pending = pending[:0]
		// Create first, wait for the others after: two calls leading each
		// other's keys then cannot deadlock.
		if len(led) > 0 {
			go t.run()
			if _, err := t.calls[0].Wait(ctx, true); err != nil {
				err = r.callError(op.String(), keys, waitCause(err, true))
				st.observe(ctx, op, keys, nil, start, -1, err)
				repanic(err)
				return nil, nil, err
			}
			for j, i := range led {
				outs[i], _ = t.calls[j].Wait(ctx, false) // ended before calls[0]
			}
		}
		for _, w := range waits {
			o, err := w.call.Wait(ctx, false)
			if err != nil {
				err = r.callError(op.String(), keys, waitCause(err, false))
				st.observe(ctx, op, keys, nil, start, -1, err)
				return nil, nil, err
			}
			if !o.found || o.res == observe.Stale {
				// Left out by another's creator, or a stale value its
				// caller accepted: this caller's own creation decides.
				pending = append(pending, w.i)
				continue
			}
			if o.res == observe.Created {
				o.res = observe.Waited
			}
			outs[w.i] = o
		}
	}
	if st.observing(ctx) && !start.IsZero() {
		results := make([]observe.Result, len(keys))
		size := -1
		for j, k := range keys {
			o := outs[pos[k]]
			results[j] = o.res
			if !o.found {
				results[j] = observe.Miss
			}
			if s := sizeOf(&o.e); s >= 0 {
				size = max(size, 0) + s
			}
		}
		st.observe(ctx, op, keys, results, start, size, nil)
	}
	return outs, uniq, nil
}

// creation is the work of one flight's leader: take the distributed
// locks, read again when needed, create, store, release.
type creation struct {
	r        *Region
	st       *regionState
	ctx      context.Context // the leader's, for its values and observation
	c        *callConfig
	noStale  bool
	snapshot uint64 // r.completions before the leader's read
	produce  producer
	// readFailed reports that the leader's read failed, failing open: the
	// creation then asks the backend neither for its lock nor again.
	readFailed bool
	publishMu  sync.Mutex
	published  bool // the outcome was handed over (maybe before the write: see early)
	// check tells entries the re-read finds fresh but the caller's
	// StaleIf retires; nil when there is none.
	check   func(*entry) bool
	keys    []string // as the callers gave them
	mangled []string
	found   []entry // what the leader's read found
	fresh   []freshness
	calls   []*flight.Call[outcome]
}

// run performs the creation and publishes its outcome to every call. A
// creator that panics or calls runtime.Goexit ends the calls with an
// error; the panic is raised again in the leader if it still waits, and
// is logged when nobody does (a background creation, or a leader whose
// context ended).
func (t *creation) run() {
	ctx := context.WithoutCancel(t.ctx)
	if d := t.r.s.creationTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var (
		outs []outcome
		err  error
	)
	flight.Run(func() { outs, err = t.do(ctx) }, func(aborted error) {
		if aborted != nil {
			err = t.abortError(aborted)
		}
		if err != nil {
			err = &creationError{err}
		}
		t.finish(outs, err, aborted)
	})
}

// abortError is the error of a creator that panicked or called
// runtime.Goexit; it is reported to the observer too.
func (t *creation) abortError(aborted error) error {
	err := ErrCreatorGoexit
	if errors.As(aborted, new(*flight.PanicError)) {
		err = fmt.Errorf("%w: %w", ErrCreatorPanicked, aborted)
	}
	t.st.observeErr(t.ctx, observe.OpCreate, t.keys, err)
	return err
}

// finish publishes the outcome to every call; the leader waits on
// calls[0], which is finished last, so that every other result is there
// when it wakes.
func (t *creation) finish(outs []outcome, err, aborted error) {
	t.publishMu.Lock()
	published := t.published
	t.published = true // a late early publication (see early) does nothing
	t.publishMu.Unlock()
	for i := range t.calls {
		t.r.flights.Forget(t.mangled[i], t.calls[i])
	}
	if published {
		return
	}
	gone := t.publish(outs, err)
	if err == nil || !gone {
		return
	}
	// Nobody waits for this error: log it.
	if aborted != nil {
		t.r.s.logger.Error("dogpile: creator did not return", "region", t.r.s.name, "keys", t.keys, "err", aborted)
		return
	}
	t.r.s.logger.Warn("dogpile: creation failed; the previous value is served", "region", t.r.s.name, "keys", t.keys, "err", err)
}

// publish hands the outcome to every call, the leader's (calls[0]) last,
// and reports whether the leader had stopped waiting.
func (t *creation) publish(outs []outcome, err error) (leaderGone bool) {
	gone := false
	for i := len(t.calls) - 1; i >= 0; i-- {
		var o outcome
		if err == nil {
			o = outs[i]
		}
		gone = t.calls[i].Publish(o, err)
	}
	return gone
}

// early hands the created values to their callers while the write is
// still under way, once half of the time the leader's context had left
// has passed (a region that fails open absorbs the write's failure
// anyway). New callers of the created keys get the values until the
// write is done, rather than create them again; the other keys are let go
// at once, for callers to create them. It returns the function that stops
// it once the write is done.
func (t *creation) early(outs []outcome) (stop func()) {
	dl, ok := t.ctx.Deadline()
	if !t.r.s.failOpen || !ok {
		return func() {}
	}
	timer := time.AfterFunc(time.Until(dl)/2, func() {
		t.publishMu.Lock()
		defer t.publishMu.Unlock()
		if t.published {
			return
		}
		t.published = true
		for i, o := range outs {
			if !o.found || o.res != observe.Created {
				t.r.flights.Forget(t.mangled[i], t.calls[i])
			}
		}
		t.publish(outs, nil)
	})
	return func() { timer.Stop() }
}

// stepContext bounds the backend steps before the creator (the lock, the
// re-read) of a region that fails open to half of the time the leader's
// context had left, as the read step does.
func (t *creation) stepContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := t.ctx.Deadline()
	if !t.r.s.failOpen || !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
}

func (t *creation) do(ctx context.Context) ([]outcome, error) {
	r, st := t.r, t.st
	n := len(t.keys)
	sctx, cancel := t.stepContext(ctx)
	defer cancel()
	outs := make([]outcome, n)
	todo := make([]bool, n) // keys still to create
	for i := range todo {
		todo[i] = true
	}

	// The distributed locks, taken in mangled-key order so that multi
	// calls of several processes cannot deadlock.
	locked := false
	if st.locker != nil && !t.readFailed { // a backend that just failed is not asked for its lock
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(t.mangled[a], t.mangled[b]) })
		for _, i := range order {
			m := st.mutex(t.mangled[i])
			if m == nil {
				continue
			}
			wait := t.fresh[i] == absent || t.noStale
			start := st.observeStart(t.ctx)
			got, err := m.Acquire(sctx, wait)
			if err != nil {
				if !r.s.failOpen {
					return nil, fmt.Errorf("%s: %w", t.lockName(i), backendError(st, err))
				}
				r.s.logger.Warn("dogpile: lock failed; creating without it", "region", r.s.name, "key", t.keys[i], "err", err)
				st.observeErr(t.ctx, observe.OpLockWait, t.keys[i:i+1], err)
				continue
			}
			if !got && wait {
				return nil, fmt.Errorf("%s: backend %s did not grant a blocking lock", t.lockName(i), st.backendName)
			}
			if !got {
				// Another process regenerates it: serve the stale value.
				todo[i] = false
				outs[i] = outcome{e: t.found[i], found: true, res: observe.Stale}
				continue
			}
			defer t.release(m, t.keys[i])
			locked = true
			if wait {
				st.observe1(t.ctx, observe.OpLockWait, t.keys[i], observe.None, start, -1, nil)
			}
		}
	}

	// Read again when someone may have created meanwhile: another
	// process, whose lock this one now holds, or a creation that finished
	// in this process since the leader's read. With the in-process lock
	// alone and nothing finished meanwhile, the backend is read once per
	// call.
	if !t.readFailed && (locked || r.completions.Load() != t.snapshot) {
		if err := t.reread(sctx, outs, todo); err != nil {
			return nil, err
		}
	}

	keys, mangled, idx := t.pending(todo)
	if len(keys) == 0 {
		return outs, nil
	}

	start := st.observeStart(t.ctx)
	values, produced, err := t.produce.produce(ctx, keys)
	if err == nil && (len(values) != len(keys) || len(produced) != len(keys)) {
		err = fmt.Errorf("%d values for %d keys", len(values), len(keys))
	}
	if err != nil {
		err = fmt.Errorf("creator: %w", err)
		st.observe(t.ctx, observe.OpCreate, keys, nil, start, -1, err)
		return nil, err
	}

	now := r.s.clock()
	var storeKeys []string
	var storeEntries []entry
	for j, v := range values {
		i := idx[j]
		if !produced[j] {
			outs[i] = outcome{res: observe.Miss}
			continue
		}
		e := newEntry(v, now)
		outs[i] = outcome{e: e, found: true, res: observe.Created}
		// After a read that failed (failing open), the backend is not
		// asked to store the value: it just failed, and a write would cost
		// the caller another of its timeouts.
		if !t.readFailed && (t.c.shouldCache == nil || t.c.shouldCache(v)) {
			storeKeys, storeEntries = append(storeKeys, mangled[j]), append(storeEntries, e)
		}
	}
	stopEarly := t.early(outs)
	var size int
	var werr error
	if n == 1 && len(storeKeys) == 1 { // GetOrCreate: one backend write, not a multi one
		size, werr = st.save(ctx, storeKeys[0], storeEntries[0])
	} else {
		size, werr = st.saveAll(ctx, storeKeys, storeEntries)
	}
	stopEarly()
	// The creation's event carries the creator's time and the bytes its
	// values took in the backend.
	if !start.IsZero() {
		results := make([]observe.Result, len(keys))
		for j := range keys {
			results[j] = outs[idx[j]].res
		}
		st.observe(t.ctx, observe.OpCreate, keys, results, start, size, nil)
	}
	if werr = st.writeFailure(t.ctx, observe.OpSet, keys, werr); werr != nil {
		return nil, fmt.Errorf("storing the created value: %w", werr)
	}
	r.completions.Add(1)
	return outs, nil
}

// lockName names the lock of key i in errors: the key is there only when
// the creation has several, since the caller's error names its own.
func (t *creation) lockName(i int) string {
	if len(t.keys) == 1 {
		return "lock"
	}
	return fmt.Sprintf("lock of %q", t.keys[i])
}

// pending returns the keys still to create (todo), as callers gave them
// and mangled, with their indexes.
func (t *creation) pending(todo []bool) (keys, mangled []string, idx []int) {
	for i := range todo {
		if todo[i] {
			keys, mangled, idx = append(keys, t.keys[i]), append(mangled, t.mangled[i]), append(idx, i)
		}
	}
	return keys, mangled, idx
}

// reread reads the keys still to create and takes the fresh values found.
func (t *creation) reread(ctx context.Context, outs []outcome, todo []bool) error {
	st := t.st
	keys, mangled, idx := t.pending(todo)
	if len(keys) == 0 {
		return nil
	}
	op := observe.OpGetOrCreateMulti
	if len(t.keys) == 1 {
		op = observe.OpGetOrCreate
	}
	es, fr, _, err := t.r.readAll(ctx, st, t.c, op, keys, mangled, true)
	if err != nil {
		return err
	}
	for j, i := range idx {
		if fr[j] == fresh && (t.check == nil || !t.check(&es[j])) {
			outs[i], todo[i] = outcome{e: es[j], found: true, res: observe.Waited}, false
		}
	}
	return nil
}

func (t *creation) release(m interface {
	Release(context.Context) error
}, key string) {
	// Release even when the creation's deadline has passed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 5*time.Second)
	defer cancel()
	if err := m.Release(ctx); err != nil {
		msg := "dogpile: releasing a lock failed"
		if errors.Is(err, ErrLockLost) {
			msg = "dogpile: lock expired before the creator finished; value kept"
		}
		t.r.s.logger.Warn(msg, "region", t.r.s.name, "key", key, "err", err)
		t.st.observeErr(t.ctx, observe.OpLockWait, []string{key}, err)
	}
}
