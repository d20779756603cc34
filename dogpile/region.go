package dogpile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// Region is the front end to one cache (dogpile.cache's CacheRegion): a
// backend, an expiration time, key handling and the dogpile lock. Declare
// regions at start-up, use them to cache functions right away, and
// Configure them once the configuration is known. A Region is safe for
// concurrent use.
type Region struct {
	name            string
	mangler         func(string) string
	codec           Codec
	keyGen          KeyGenerator
	multiKeyGen     MultiKeyGenerator
	async           AsyncRunner
	logger          *slog.Logger
	observer        Observer
	now             func() time.Time
	customClock     bool
	failOpen        bool
	noStale         bool
	creationTimeout time.Duration

	configMu sync.Mutex
	state    atomic.Pointer[regionState]
	flights  flightGroup
	// completions counts finished creations; a creator that finds it moved
	// since its read re-reads the backend instead of creating twice.
	completions atomic.Uint64
}

// regionState is what Configure sets, swapped whole so that replacing a
// backend is safe while the region is in use.
type regionState struct {
	backend     Backend
	values      ValueBackend // one of values and bytes is set
	bytes       BytesBackend
	locker      Locker
	backendName string
	expiration  time.Duration // 0: never
	invalidator InvalidationStrategy
}

// Config is the configuration of a region (dogpile.cache's configure
// arguments).
type Config struct {
	// ExpirationTime is how long values stay fresh; zero means for ever.
	ExpirationTime time.Duration
	// Arguments are passed to the backend factory.
	Arguments Arguments
	// Wrap lists proxies placed around the backend, outermost first, as
	// dogpile.cache's wrap: []Proxy{A, B} gives A(B(backend)).
	Wrap []Proxy
	// ReplaceExistingBackend allows configuring a configured region.
	ReplaceExistingBackend bool
	// Invalidator replaces the default LocalInvalidation.
	Invalidator InvalidationStrategy
}

// NewRegion returns an unconfigured region.
func NewRegion(opts ...Option) *Region {
	r := &Region{
		codec:       JSON,
		keyGen:      FunctionKeyGenerator,
		multiKeyGen: FunctionMultiKeyGenerator,
		logger:      slog.Default(),
		now:         time.Now,
	}
	for _, o := range opts {
		if o != nil {
			o(r)
		}
	}
	return r
}

// Name returns the region's name.
func (r *Region) Name() string { return r.name }

// Configure opens the backend registered under name with cfg.Arguments and
// makes the region ready for use.
func (r *Region) Configure(name string, cfg Config) error {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	if err := r.checkReconfigure(cfg); err != nil {
		return err
	}
	b, err := OpenBackend(name, cfg.Arguments)
	if err != nil {
		return err
	}
	if err := r.install(b, name, cfg); err != nil {
		if c, ok := b.(io.Closer); ok {
			_ = c.Close() // built here, so released here
		}
		return err
	}
	return nil
}

// ConfigureBackend makes the region ready with a backend built by the
// caller; cfg.Arguments must be empty.
func (r *Region) ConfigureBackend(b Backend, cfg Config) error {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	if err := r.checkReconfigure(cfg); err != nil {
		return err
	}
	if len(cfg.Arguments) > 0 {
		return fmt.Errorf("%w: Arguments are for named backends; build the backend with them instead", ErrInvalidArgument)
	}
	if b == nil {
		return fmt.Errorf("%w: nil backend", ErrInvalidBackend)
	}
	return r.install(b, fmt.Sprintf("%T", b), cfg)
}

func (r *Region) checkReconfigure(cfg Config) error {
	if st := r.state.Load(); st != nil && !cfg.ReplaceExistingBackend {
		return fmt.Errorf("%w with backend %s; set ReplaceExistingBackend to replace it", ErrAlreadyConfigured, st.backendName)
	}
	if cfg.ExpirationTime < 0 && cfg.ExpirationTime != NoExpiration {
		return fmt.Errorf("%w: negative ExpirationTime %v", ErrInvalidArgument, cfg.ExpirationTime)
	}
	return nil
}

func (r *Region) install(b Backend, name string, cfg Config) error {
	raw := b
	for i := len(cfg.Wrap) - 1; i >= 0; i-- {
		if cfg.Wrap[i] == nil {
			return fmt.Errorf("%w: nil proxy in Wrap", ErrInvalidBackend)
		}
		b = cfg.Wrap[i](b)
	}
	// The innermost backend decides the kind; proxies forward both.
	actual := unwrap(b)
	st := &regionState{backend: b, backendName: name, expiration: max(cfg.ExpirationTime, 0)}
	_, actualBytes := actual.(BytesBackend)
	_, actualValues := actual.(ValueBackend)
	bb, outerBytes := b.(BytesBackend)
	vb, outerValues := b.(ValueBackend)
	switch {
	case actualBytes && outerBytes:
		st.bytes = bb
	case actualValues && outerValues:
		st.values = vb
	default:
		return fmt.Errorf("%w: %s (%T) implements neither ValueBackend nor BytesBackend", ErrInvalidBackend, name, b)
	}
	// A proxy may add a lock or forward the backend's; a nil Mutex from
	// it means the region's in-process lock alone.
	st.locker, _ = b.(Locker)
	if ea, ok := unwrap(raw).(ExpirationAware); ok {
		ea.SetRegionExpiration(st.expiration)
	}
	st.invalidator = cfg.Invalidator
	if st.invalidator == nil {
		st.invalidator = &LocalInvalidation{Now: r.now}
	}
	if s, ok := st.invalidator.(*SharedInvalidation); ok {
		if err := s.bind(r, st); err != nil {
			return err
		}
	}
	old := r.state.Swap(st)
	if old != nil {
		if c, ok := old.backend.(io.Closer); ok && old.backend != b {
			if err := c.Close(); err != nil {
				r.logger.Warn("dogpile: closing the replaced backend", "region", r.name, "err", err)
			}
		}
	}
	return nil
}

// IsConfigured reports whether Configure has succeeded.
func (r *Region) IsConfigured() bool { return r.state.Load() != nil }

// Backend returns the configured backend, proxies included.
func (r *Region) Backend() (Backend, error) {
	st, err := r.configured()
	if err != nil {
		return nil, err
	}
	return st.backend, nil
}

// ActualBackend returns the configured backend without its proxies.
func (r *Region) ActualBackend() (Backend, error) {
	b, err := r.Backend()
	if err != nil {
		return nil, err
	}
	return unwrap(b), nil
}

// unwrap follows proxies to the innermost backend.
func unwrap(b Backend) Backend {
	for {
		p, ok := b.(interface{ Proxied() Backend })
		if !ok || p.Proxied() == nil {
			return b
		}
		b = p.Proxied()
	}
}

// ExpirationTime returns the configured expiration time (zero: never).
func (r *Region) ExpirationTime() time.Duration {
	if st := r.state.Load(); st != nil {
		return st.expiration
	}
	return 0
}

// Close closes the backend when it holds resources (an io.Closer). The
// region is unconfigured afterwards.
func (r *Region) Close() error {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	st := r.state.Swap(nil)
	if st == nil {
		return nil
	}
	if c, ok := st.backend.(io.Closer); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("dogpile: closing backend %s: %w", st.backendName, err)
		}
	}
	return nil
}

func (r *Region) configured() (*regionState, error) {
	st := r.state.Load()
	if st == nil {
		if r.name != "" {
			return nil, fmt.Errorf("%w: region %q", ErrNotConfigured, r.name)
		}
		return nil, ErrNotConfigured
	}
	return st, nil
}

func (r *Region) mangle(key string) string {
	if r.mangler == nil {
		return key
	}
	return r.mangler(key)
}

// Invalidate retires every value the region holds now: hard makes them
// absent, soft makes them expired so they are served while one caller
// regenerates each (dogpile.cache's invalidate). Nothing is deleted.
func (r *Region) Invalidate(ctx context.Context, hard bool) error {
	st, err := r.configured()
	if err != nil {
		return err
	}
	if err := st.invalidator.Invalidate(ctx, hard); err != nil {
		return fmt.Errorf("dogpile: invalidate: %w", err)
	}
	return nil
}

// expiration returns the expiration that applies to a value with metadata
// md for this call: 0 for never.
func (st *regionState) expirationFor(c *callConfig, md Metadata) time.Duration {
	exp := c.expiration
	if c.expirationFunc != nil {
		exp = c.expirationFunc(md)
		if exp == 0 {
			exp = NoExpiration
		}
	}
	switch {
	case exp == 0:
		return st.expiration
	case exp < 0:
		return 0
	}
	return exp
}

// classify says what a value read from the backend is worth to this call.
type freshness uint8

const (
	absent freshness = iota // no usable value
	stale                   // usable but expired or soft invalidated
	fresh
)

func (r *Region) classify(st *regionState, c *callConfig, cv CachedValue, found bool) freshness {
	if !found || cv.Metadata.Version != ValueVersion {
		return absent
	}
	if c.ignoreExpiry {
		return fresh
	}
	ct := cv.Metadata.CreatedAt
	if st.invalidator.IsInvalidated(ct) {
		if st.invalidator.IsHardInvalidated(ct) {
			return absent
		}
		return stale
	}
	if exp := st.expirationFor(c, cv.Metadata); exp > 0 && r.nanotime()-ct.UnixNano() > int64(exp) {
		return stale
	}
	return fresh
}

// nanotime is the time freshness is checked against: the coarse clock, or
// the clock given with WithClock.
func (r *Region) nanotime() int64 {
	if r.customClock {
		return r.now().UnixNano()
	}
	return coarseNow()
}

// load reads one entry; undecodable bytes are a miss, reported.
func (r *Region) load(ctx context.Context, st *regionState, key string) (CachedValue, bool, error) {
	if st.values != nil {
		return st.values.Get(ctx, key)
	}
	b, ok, err := st.bytes.GetBytes(ctx, key)
	if err != nil || !ok {
		return CachedValue{}, false, err
	}
	return r.decodeEntry(ctx, key, b)
}

func (r *Region) decodeEntry(ctx context.Context, key string, b []byte) (CachedValue, bool, error) {
	md, payload, err := DecodeEntry(b)
	if err != nil {
		r.logger.Warn("dogpile: undecodable entry treated as a miss", "region", r.name, "key", key, "err", err)
		return CachedValue{}, false, nil
	}
	if v, ok := r.codec.(validator); ok && !v.Valid(payload) {
		r.logger.Warn("dogpile: undecodable payload treated as a miss", "region", r.name, "key", key)
		return CachedValue{}, false, nil
	}
	if payload == nil {
		payload = []byte{}
	}
	return CachedValue{Payload: rawPayload(payload), Metadata: md}, true, nil
}

func (r *Region) loadMulti(ctx context.Context, st *regionState, keys []string) ([]CachedValue, error) {
	if st.values != nil {
		vals, err := st.values.GetMulti(ctx, keys)
		if err == nil && len(vals) != len(keys) {
			err = fmt.Errorf("dogpile: backend %s returned %d values for %d keys", st.backendName, len(vals), len(keys))
		}
		return vals, err
	}
	raw, err := st.bytes.GetBytesMulti(ctx, keys)
	if err != nil {
		return nil, err
	}
	if len(raw) != len(keys) {
		return nil, fmt.Errorf("dogpile: backend %s returned %d entries for %d keys", st.backendName, len(raw), len(keys))
	}
	vals := make([]CachedValue, len(keys))
	for i, b := range raw {
		if b != nil {
			vals[i], _, _ = r.decodeEntry(ctx, keys[i], b)
		}
	}
	return vals, nil
}

// store writes cv (holding a Go payload) under key, encoding it for a
// BytesBackend. It returns the payload size, or -1 for Go values.
func (r *Region) store(ctx context.Context, st *regionState, key string, cv CachedValue) (int, error) {
	if st.values != nil {
		return -1, st.values.Set(ctx, key, cv)
	}
	payload, err := r.codec.Marshal(cv.Payload)
	if err != nil {
		return 0, fmt.Errorf("dogpile: encoding value for %q: %w", key, err)
	}
	return len(payload), st.bytes.SetBytes(ctx, key, EncodeEntry(cv.Metadata, payload))
}

func (r *Region) storeMulti(ctx context.Context, st *regionState, keys []string, cvs []CachedValue) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if st.values != nil {
		items := make([]Item, len(keys))
		for i, k := range keys {
			items[i] = Item{Key: k, Value: cvs[i]}
		}
		return -1, st.values.SetMulti(ctx, items)
	}
	items := make([]BytesItem, len(keys))
	size := 0
	for i, k := range keys {
		payload, err := r.codec.Marshal(cvs[i].Payload)
		if err != nil {
			return 0, fmt.Errorf("dogpile: encoding value for %q: %w", k, err)
		}
		size += len(payload)
		items[i] = BytesItem{Key: k, Value: EncodeEntry(cvs[i].Metadata, payload)}
	}
	return size, st.bytes.SetBytesMulti(ctx, items)
}

// decodeAny returns the payload of cv as a Go value.
func (r *Region) decodeAny(cv CachedValue) (any, error) {
	raw, ok := cv.Payload.(rawPayload)
	if !ok {
		return cv.Payload, nil
	}
	var v any
	if err := r.codec.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("dogpile: decoding payload: %w", err)
	}
	return v, nil
}

// decodeAs returns the payload of cv as a T.
func decodeAs[T any](r *Region, cv CachedValue) (T, error) {
	if raw, ok := cv.Payload.(rawPayload); ok {
		return unmarshalAs[T](r.codec, raw)
	}
	if cv.Payload == nil {
		var zero T
		return zero, nil
	}
	t, ok := cv.Payload.(T)
	if !ok {
		return t, fmt.Errorf("%w: have %T, want %v", ErrTypeMismatch, cv.Payload, reflect.TypeFor[T]())
	}
	return t, nil
}

// unmarshalAs is apart from decodeAs so that only this path pays for the
// value escaping into the codec.
func unmarshalAs[T any](c Codec, raw []byte) (T, error) {
	var t T
	if err := c.Unmarshal(raw, &t); err != nil {
		return t, fmt.Errorf("dogpile: decoding payload as %v: %w", reflect.TypeFor[T](), err)
	}
	return t, nil
}

// readError applies fail-open to a backend read error: nil when the region
// fails open (the error is reported instead).
func (r *Region) readError(ctx context.Context, st *regionState, op Op, keys []string, err error) error {
	if err == nil {
		return nil
	}
	if r.failOpen {
		r.logger.Warn("dogpile: backend read failed; treated as a miss", "region", r.name, "op", op.String(), "err", err)
		r.observeErr(ctx, st, op, keys, err)
		return nil
	}
	return fmt.Errorf("dogpile: %s %q: %w", op, keys, err)
}

func (r *Region) writeError(ctx context.Context, st *regionState, op Op, keys []string, err error) error {
	if err == nil {
		return nil
	}
	if r.failOpen {
		r.logger.Warn("dogpile: backend write failed; value served uncached", "region", r.name, "op", op.String(), "err", err)
		r.observeErr(ctx, st, op, keys, err)
		return nil
	}
	return fmt.Errorf("dogpile: %s %q: %w", op, keys, err)
}

// Get returns the value under key and whether there is a usable one: not
// expired, not invalidated, of the current version (IgnoreExpiration
// relaxes the first two). Get never creates.
func (r *Region) Get(ctx context.Context, key string, opts ...CallOption) (any, bool, error) {
	cv, ok, err := r.getValue(ctx, key, opts)
	if err != nil || !ok {
		return nil, false, err
	}
	v, err := r.decodeAny(cv)
	return v, err == nil, err
}

// Get is the typed form of Region.Get. A value of another type under key is
// an error wrapping ErrTypeMismatch.
func Get[T any](ctx context.Context, r *Region, key string, opts ...CallOption) (T, bool, error) {
	var zero T
	cv, ok, err := r.getValue(ctx, key, opts)
	if err != nil || !ok {
		return zero, false, err
	}
	v, err := decodeAs[T](r, cv)
	if err != nil {
		return zero, false, err
	}
	return v, true, nil
}

// GetMulti is the typed form of Region.GetMulti.
func GetMulti[T any](ctx context.Context, r *Region, keys []string, opts ...CallOption) (values []T, found []bool, err error) {
	cvs, found, err := r.getMultiValues(ctx, keys, opts)
	if err != nil {
		return nil, nil, err
	}
	values = make([]T, len(keys))
	for i, cv := range cvs {
		if found[i] {
			if values[i], err = decodeAs[T](r, cv); err != nil {
				return nil, nil, err
			}
		}
	}
	return values, found, nil
}

// GetValueMetadata returns the stored value with its metadata under the
// same rules as Get (dogpile.cache's get_value_metadata).
func (r *Region) GetValueMetadata(ctx context.Context, key string, opts ...CallOption) (CachedValue, bool, error) {
	cv, ok, err := r.getValue(ctx, key, opts)
	if err != nil || !ok {
		return CachedValue{}, false, err
	}
	v, err := r.decodeAny(cv)
	if err != nil {
		return CachedValue{}, false, err
	}
	cv.Payload = v
	return cv, true, nil
}

func (r *Region) getValue(ctx context.Context, key string, opts []CallOption) (CachedValue, bool, error) {
	st, err := r.configured()
	if err != nil {
		return CachedValue{}, false, err
	}
	var c callConfig
	for _, o := range opts {
		o(&c)
	}
	start := r.observeStart(ctx)
	cv, ok, err := r.load(ctx, st, r.mangle(key))
	if err = r.readError(ctx, st, OpGet, []string{key}, err); err != nil {
		r.observe1(ctx, st, OpGet, key, ResultError, start, -1, err)
		return CachedValue{}, false, err
	}
	ok = ok && r.classify(st, &c, cv, ok) == fresh
	if r.observing(ctx) {
		res := ResultMiss
		if ok {
			res = ResultHit
		}
		r.observe1(ctx, st, OpGet, key, res, start, cv.Size(), nil)
	}
	return cv, ok, nil
}

// GetMulti returns the values under keys, in order, with found[i] telling
// whether values[i] is usable, under the rules of Get, in one backend call.
func (r *Region) GetMulti(ctx context.Context, keys []string, opts ...CallOption) (values []any, found []bool, err error) {
	cvs, found, err := r.getMultiValues(ctx, keys, opts)
	if err != nil {
		return nil, nil, err
	}
	values = make([]any, len(keys))
	for i, cv := range cvs {
		if found[i] {
			if values[i], err = r.decodeAny(cv); err != nil {
				return nil, nil, err
			}
		}
	}
	return values, found, nil
}

func (r *Region) getMultiValues(ctx context.Context, keys []string, opts []CallOption) ([]CachedValue, []bool, error) {
	st, err := r.configured()
	if err != nil {
		return nil, nil, err
	}
	if len(keys) == 0 {
		return []CachedValue{}, []bool{}, nil
	}
	var c callConfig
	for _, o := range opts {
		o(&c)
	}
	start := r.observeStart(ctx)
	cvs, err := r.loadMulti(ctx, st, r.mangleAll(keys))
	if err = r.readError(ctx, st, OpGetMulti, keys, err); err != nil {
		r.observeN(ctx, st, OpGetMulti, keys, nil, start, -1, err)
		return nil, nil, err
	}
	if cvs == nil {
		cvs = make([]CachedValue, len(keys))
	}
	found := make([]bool, len(keys))
	for i, cv := range cvs {
		found[i] = r.classify(st, &c, cv, !cv.IsZero()) == fresh
	}
	if r.observing(ctx) {
		results := make([]Result, len(keys))
		size := sizeOf(cvs)
		for i := range found {
			results[i] = ResultMiss
			if found[i] {
				results[i] = ResultHit
			}
		}
		r.observeN(ctx, st, OpGetMulti, keys, results, start, size, nil)
	}
	return cvs, found, nil
}

func (r *Region) mangleAll(keys []string) []string {
	if r.mangler == nil {
		return keys
	}
	m := make([]string, len(keys))
	for i, k := range keys {
		m[i] = r.mangler(k)
	}
	return m
}

// Set stores value under key, created now.
func (r *Region) Set(ctx context.Context, key string, value any) error {
	st, err := r.configured()
	if err != nil {
		return err
	}
	start := r.observeStart(ctx)
	size, err := r.store(ctx, st, r.mangle(key), NewCachedValue(value, r.now()))
	err = r.writeError(ctx, st, OpSet, []string{key}, err)
	r.observe1(ctx, st, OpSet, key, ResultNone, start, size, err)
	return err
}

// SetMulti stores every value, all with one creation time, in one backend
// call.
func (r *Region) SetMulti(ctx context.Context, values map[string]any) error {
	st, err := r.configured()
	if err != nil {
		return err
	}
	if len(values) == 0 {
		return nil
	}
	start := r.observeStart(ctx)
	now := r.now()
	keys := make([]string, 0, len(values))
	cvs := make([]CachedValue, 0, len(values))
	for k, v := range values {
		keys = append(keys, k)
		cvs = append(cvs, NewCachedValue(v, now))
	}
	size, err := r.storeMulti(ctx, st, r.mangleAll(keys), cvs)
	err = r.writeError(ctx, st, OpSetMulti, keys, err)
	r.observeN(ctx, st, OpSetMulti, keys, nil, start, size, err)
	return err
}

// Delete removes key. Deleting a missing key is not an error.
func (r *Region) Delete(ctx context.Context, key string) error {
	st, err := r.configured()
	if err != nil {
		return err
	}
	start := r.observeStart(ctx)
	err = st.backend.Delete(ctx, r.mangle(key))
	err = r.writeError(ctx, st, OpDelete, []string{key}, err)
	r.observe1(ctx, st, OpDelete, key, ResultNone, start, -1, err)
	return err
}

// DeleteMulti removes every key in one backend call.
func (r *Region) DeleteMulti(ctx context.Context, keys []string) error {
	st, err := r.configured()
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	start := r.observeStart(ctx)
	err = st.backend.DeleteMulti(ctx, r.mangleAll(keys))
	err = r.writeError(ctx, st, OpDeleteMulti, keys, err)
	r.observeN(ctx, st, OpDeleteMulti, keys, nil, start, -1, err)
	return err
}

// KeyIsLocked reports whether a creation for key is under way, in this
// process or, with a distributed lock, in any. The key is mangled like
// every other key (unlike dogpile.cache's key_is_locked).
func (r *Region) KeyIsLocked(ctx context.Context, key string) (bool, error) {
	st, err := r.configured()
	if err != nil {
		return false, err
	}
	k := r.mangle(key)
	if r.flights.active(k) {
		return true, nil
	}
	if st.locker != nil {
		if m := st.locker.Mutex(k); m != nil {
			locked, err := m.Locked(ctx)
			if err != nil {
				return false, fmt.Errorf("dogpile: key_is_locked %q: %w", key, err)
			}
			return locked, nil
		}
	}
	return false, nil
}

func sizeOf(cvs []CachedValue) int {
	size, known := 0, false
	for _, cv := range cvs {
		if s := cv.Size(); s >= 0 {
			size, known = size+s, true
		}
	}
	if !known {
		return -1
	}
	return size
}

// observing reports whether the observer wants this call's events.
func (r *Region) observing(ctx context.Context) bool {
	return r.observer != nil && r.observer.Enabled(ctx)
}

// observeStart reads the clock only when someone observes.
func (r *Region) observeStart(ctx context.Context) time.Time {
	if !r.observing(ctx) {
		return time.Time{}
	}
	return time.Now()
}

func (r *Region) observe1(ctx context.Context, st *regionState, op Op, key string, res Result, start time.Time, size int, err error) {
	if !r.observing(ctx) {
		return
	}
	r.observeN(ctx, st, op, []string{key}, oneResult[res:res+1], start, size, err)
}

// oneResult holds every Result once: oneResult[r:r+1] is a one-element
// Results slice that costs no allocation (Event documents that observers
// must not modify it).
var oneResult = [...]Result{ResultNone, ResultHit, ResultStale, ResultMiss, ResultCreated, ResultWaited, ResultError}

func (r *Region) observeN(ctx context.Context, st *regionState, op Op, keys []string, results []Result, start time.Time, size int, err error) {
	if !r.observing(ctx) {
		return
	}
	if results == nil {
		results = make([]Result, len(keys))
		if err != nil {
			for i := range results {
				results[i] = ResultError
			}
		}
	}
	r.observer.Observe(ctx, Event{
		Region: r.name, Backend: st.backendName, Op: op, Keys: keys, Results: results,
		Duration: time.Since(start), Size: size, Err: err,
	})
}

func (r *Region) observeErr(ctx context.Context, st *regionState, op Op, keys []string, err error) {
	if !r.observing(ctx) {
		return
	}
	r.observeN(ctx, st, op, keys, nil, time.Now(), -1, err)
}
