package dogpile

import (
	"context"
	"errors"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

// observing reports whether the observer wants this call's events.
func (st *regionState) observing(ctx context.Context) bool {
	return st.s.observer != nil && st.s.observer.Enabled(ctx)
}

// observeStart reads the clock only when someone observes.
func (st *regionState) observeStart(ctx context.Context) time.Time {
	if !st.observing(ctx) {
		return time.Time{}
	}
	return time.Now()
}

// oneResult holds every Result once: oneResult[r:r+1] is a one-element
// Results slice that costs no allocation (observers must not modify it).
var oneResult = [...]observe.Result{observe.None, observe.Hit, observe.Stale, observe.Miss, observe.Created, observe.Waited, observe.Error}

func (st *regionState) observe1(ctx context.Context, op observe.Op, key string, res observe.Result, start time.Time, size int, err error) {
	if start.IsZero() || !st.observing(ctx) {
		return
	}
	if err != nil {
		res = observe.Error
	}
	st.observe(ctx, op, []string{key}, oneResult[res:res+1], start, size, err)
}

// observe reports an event; nil results mean None for every key, or
// Error when err is set. A zero start means nobody observed the call
// when it began.
func (st *regionState) observe(ctx context.Context, op observe.Op, keys []string, results []observe.Result, start time.Time, size int, err error) {
	if start.IsZero() || !st.observing(ctx) {
		return
	}
	if results == nil && len(keys) > 0 {
		results = make([]observe.Result, len(keys))
		if err != nil {
			for i := range results {
				results[i] = observe.Error
			}
		}
	}
	st.s.observer.Observe(ctx, observe.Event{
		Region: st.s.name, Backend: st.backendName, Op: op, Keys: keys, Results: results,
		Start: start, Duration: time.Since(start), Size: size, Err: err,
	})
}

// observeErr reports an error absorbed or logged rather than returned.
func (st *regionState) observeErr(ctx context.Context, op observe.Op, keys []string, err error) {
	if st.observing(ctx) {
		st.observe(ctx, op, keys, nil, time.Now(), -1, err)
	}
}

// readFailure applies fail-open to a backend read error: nil when the
// region fails open (the error is logged and observed instead), else the
// error with the backend's name in front.
func (st *regionState) readFailure(ctx context.Context, op observe.Op, keys []string, err error) error {
	if err == nil {
		return nil
	}
	if st.s.failOpen {
		st.s.logger.Warn("dogpile: backend read failed; treated as a miss", "region", st.s.name, "op", op.String(), "err", err)
		st.observeErr(ctx, op, keys, err)
		return nil
	}
	return backendError(st, err)
}

// readError is readFailure as the *Error of op on keys.
func (st *regionState) readError(ctx context.Context, op observe.Op, keys []string, err error) error {
	if err = st.readFailure(ctx, op, keys, err); err != nil {
		return &Error{Op: op.String(), Region: st.s.name, Keys: keys, Err: err}
	}
	return nil
}

// writeFailure is readFailure for writes: failing open, the value is
// served uncached. A value the codec cannot encode is an error either
// way; a value too large for the backend is served uncached either way.
func (st *regionState) writeFailure(ctx context.Context, op observe.Op, keys []string, err error) error {
	if err == nil {
		return nil
	}
	if ee := (*encodeError)(nil); errors.As(err, &ee) {
		return err
	}
	var ke driver.KeyErrors
	if errors.As(err, &ke) {
		failed, errs := ke.KeyErrors()
		var rest []error
		for i, k := range failed {
			if i < len(errs) && errors.Is(errs[i], driver.ErrValueTooLarge) {
				st.tooLarge(ctx, op, []string{k}, errs[i])
			} else if i < len(errs) {
				rest = append(rest, errs[i])
			}
		}
		if len(rest) == 0 {
			return nil // only values too large: each served uncached
		}
	} else if errors.Is(err, driver.ErrValueTooLarge) {
		st.tooLarge(ctx, op, keys, err)
		return nil
	}
	if st.s.failOpen {
		st.s.logger.Warn("dogpile: backend write failed; value served uncached", "region", st.s.name, "op", op.String(), "err", err)
		st.observeErr(ctx, op, keys, err)
		return nil
	}
	return backendError(st, err)
}

// writeError is writeFailure as the *Error of op on keys.
func (st *regionState) writeError(ctx context.Context, op observe.Op, keys []string, err error) error {
	if err = st.writeFailure(ctx, op, keys, err); err != nil {
		return &Error{Op: op.String(), Region: st.s.name, Keys: keys, Err: err}
	}
	return nil
}

// backendError names the backend in front of its error.
func backendError(st *regionState, err error) error {
	return &backendErr{name: st.backendName, err: err}
}

type backendErr struct {
	name string
	err  error
}

func (e *backendErr) Error() string { return "backend " + e.name + ": " + e.err.Error() }
func (e *backendErr) Unwrap() error { return e.err }

// evicted reports an entry the backend dropped on its own.
func (st *regionState) evicted(key string, expired bool) {
	op := observe.OpEvict
	if expired {
		op = observe.OpExpire
	}
	ctx := context.Background()
	if st.observing(ctx) {
		st.observe(ctx, op, []string{key}, oneResult[observe.None:observe.None+1], time.Now(), -1, nil)
	}
}

// maxTooLarge bounds the keys remembered as too large, so that hostile
// keys cannot grow the set without end; past it, the set starts again.
const maxTooLarge = 4096

// tooLarge reports a value the backend refused for its size: to the
// observer every time, to the logger once per key.
func (st *regionState) tooLarge(ctx context.Context, op observe.Op, keys []string, err error) {
	st.observeErr(ctx, op, keys, err)
	st.s.tooLargeMu.Lock()
	defer st.s.tooLargeMu.Unlock()
	if st.s.tooLarge == nil || len(st.s.tooLarge) >= maxTooLarge {
		st.s.tooLarge = make(map[string]struct{})
	}
	for _, k := range keys {
		if _, seen := st.s.tooLarge[k]; seen {
			continue
		}
		st.s.tooLarge[k] = struct{}{}
		st.s.logger.Warn("dogpile: value too large for the backend; served uncached", "region", st.s.name, "key", k, "err", err)
	}
}
