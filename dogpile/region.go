package dogpile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/internal/flight"
)

// Region is the front end to one cache (dogpile.cache's CacheRegion): a
// backend, an expiration time, key handling and the dogpile lock. Declare
// regions at start-up, cache functions with them right away, and
// Configure them once the configuration is known. A Region is safe for
// concurrent use.
type Region struct {
	s settings // fixed at NewRegion

	configMu sync.Mutex
	state    atomic.Pointer[regionState]
	flights  flight.Group[outcome]
	// completions counts finished creations; a creation that finds it
	// moved since its caller's read reads the backend again instead of
	// creating a value twice.
	completions atomic.Uint64
}

// regionState is what Configure sets, swapped whole so that replacing a
// backend is safe while the region is in use.
type regionState struct {
	s           *settings
	backend     driver.Backend
	backendName string
	values      driver.ValueBackend // one of values and bytes is set
	bytes       driver.BytesBackend
	near        driver.NearBackend // bytes, when it is a near cache
	locker      driver.Locker
	expiration  time.Duration // 0: never
	inv         InvalidationStrategy
}

// Config is the configuration of a region (dogpile.cache's configure
// arguments).
type Config struct {
	// ExpirationTime is how long values stay fresh. Zero, like
	// NoExpiration, means for ever (dogpile.cache's None); other negative
	// durations are an error.
	ExpirationTime time.Duration
	// Arguments are the backend's arguments, by dogpile.cache's names,
	// for Configure; ConfigureBackend takes none.
	Arguments map[string]any
	// Wrap lists proxies placed around the backend, outermost first, as
	// dogpile.cache's wrap: []driver.Proxy{A, B} gives A(B(backend)).
	Wrap []driver.Proxy
	// ReplaceExistingBackend allows configuring a configured region.
	ReplaceExistingBackend bool
	// Invalidator decides what Invalidate retires; the default keeps the
	// time of the last invalidation in this process. SharedInvalidation
	// keeps it in the backend, for every process.
	Invalidator InvalidationStrategy
}

// NewRegion returns an unconfigured region. Options that cannot take
// their values are reported by Configure.
func NewRegion(opts ...Option) *Region {
	r := &Region{s: settings{codec: JSON, keyGen: FunctionKeyGenerator, multiKeyGen: FunctionMultiKeyGenerator}}
	for _, o := range opts {
		if o == nil {
			r.s.invalid("NewRegion", "nil Option")
			continue
		}
		o.applyRegion(&r.s)
	}
	if r.s.logger == nil {
		r.s.logger = slog.Default()
	}
	r.s.err = joinErr(r.s.err, r.s.defaults.err)
	return r
}

// Name returns the region's name.
func (r *Region) Name() string { return r.s.name }

func (r *Region) errorf(op string, keys []string, format string, args ...any) error {
	return &Error{Op: op, Region: r.s.name, Keys: keys, Err: fmt.Errorf(format, args...)}
}

func (r *Region) fail(op string, keys []string, err error) error {
	return &Error{Op: op, Region: r.s.name, Keys: keys, Err: err}
}

// Configure opens the backend registered under name with cfg.Arguments
// and makes the region ready for use. On error the region is left as it
// was.
func (r *Region) Configure(name string, cfg Config) error {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	if err := r.checkConfig(cfg); err != nil {
		return err
	}
	b, err := driver.Open(name, driver.Arguments(cfg.Arguments))
	if err != nil {
		return r.fail("configure", nil, err)
	}
	if err := r.install(b, name, cfg); err != nil {
		if c, ok := b.(io.Closer); ok {
			_ = c.Close() // opened here, so released here
		}
		return err
	}
	return nil
}

// ConfigureBackend makes the region ready with a backend built by the
// caller, such as the typed constructors of the backend packages give.
// cfg.Arguments must be empty. On error the region is left as it was.
func (r *Region) ConfigureBackend(b driver.Backend, cfg Config) error {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	if err := r.checkConfig(cfg); err != nil {
		return err
	}
	if len(cfg.Arguments) > 0 {
		return r.errorf("configure", nil, "%w: Config.Arguments are for backends opened by name; give them to the backend's constructor", ErrInvalidArgument)
	}
	if b == nil {
		return r.errorf("configure", nil, "%w: nil backend", ErrInvalidBackend)
	}
	return r.install(b, fmt.Sprintf("%T", b), cfg)
}

func (r *Region) checkConfig(cfg Config) error {
	if r.s.err != nil {
		return r.fail("configure", nil, r.s.err)
	}
	if st := r.state.Load(); st != nil && !cfg.ReplaceExistingBackend {
		return r.errorf("configure", nil, "%w with backend %s; set Config.ReplaceExistingBackend to replace it", ErrAlreadyConfigured, st.backendName)
	}
	if cfg.ExpirationTime < 0 && cfg.ExpirationTime != NoExpiration {
		return r.errorf("configure", nil, "%w: negative Config.ExpirationTime %v (zero or NoExpiration: never)", ErrInvalidArgument, cfg.ExpirationTime)
	}
	for _, p := range cfg.Wrap {
		if p == nil {
			return r.errorf("configure", nil, "%w: nil proxy in Config.Wrap", ErrInvalidArgument)
		}
	}
	return nil
}

func (r *Region) install(raw driver.Backend, name string, cfg Config) error {
	b := raw
	for i := len(cfg.Wrap) - 1; i >= 0; i-- {
		b = cfg.Wrap[i](b)
		if b == nil {
			return r.errorf("configure", nil, "%w: proxy %d of Config.Wrap returned nil", ErrInvalidBackend, i)
		}
	}
	st := &regionState{s: &r.s, backend: b, backendName: name, expiration: max(cfg.ExpirationTime, 0)}
	// The innermost backend decides the kind; proxies forward both.
	inner := driver.Unwrap(b)
	_, innerBytes := inner.(driver.BytesBackend)
	_, innerValues := inner.(driver.ValueBackend)
	bb, outerBytes := b.(driver.BytesBackend)
	vb, outerValues := b.(driver.ValueBackend)
	switch {
	case innerBytes && outerBytes:
		st.bytes = bb
		if _, innerNear := inner.(driver.NearBackend); innerNear {
			st.near, _ = b.(driver.NearBackend) // proxies forward it
		}
	case innerValues && outerValues:
		st.values = vb
	default:
		return r.errorf("configure", nil, "%w: %s (%T) implements neither driver.ValueBackend nor driver.BytesBackend", ErrInvalidBackend, name, b)
	}
	// A proxy may add a lock or forward the backend's; a nil Mutex from
	// it means the region's in-process lock alone.
	st.locker, _ = b.(driver.Locker)
	st.inv = cfg.Invalidator
	if st.inv == nil {
		st.inv = new(localInvalidation)
	}
	if err := st.inv.Bind(r); err != nil {
		return r.fail("configure", nil, err)
	}
	if ea, ok := driver.Unwrap(raw).(driver.ExpirationAware); ok {
		ea.SetRegionExpiration(st.expiration)
	}
	if ev, ok := driver.Unwrap(raw).(driver.Evicter); ok {
		ev.NotifyEvictions(st.evicted)
	}
	if old := r.state.Swap(st); old != nil {
		if c, ok := old.backend.(io.Closer); ok && old.backend != b {
			if err := c.Close(); err != nil {
				r.s.logger.Warn("dogpile: closing the replaced backend", "region", r.s.name, "err", err)
			}
		}
	}
	return nil
}

// IsConfigured reports whether Configure has succeeded.
func (r *Region) IsConfigured() bool { return r.state.Load() != nil }

// Backend returns the configured backend, proxies included, and nil
// before Configure. driver.Unwrap finds the backend inside the proxies.
func (r *Region) Backend() driver.Backend {
	if st := r.state.Load(); st != nil {
		return st.backend
	}
	return nil
}

// ExpirationTime returns the configured expiration time; zero for never.
func (r *Region) ExpirationTime() time.Duration {
	if st := r.state.Load(); st != nil {
		return st.expiration
	}
	return 0
}

// Close closes the backend when it holds resources (an io.Closer). The
// region is unconfigured afterwards, and may be configured again.
func (r *Region) Close() error {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	st := r.state.Swap(nil)
	if st == nil {
		return nil
	}
	if c, ok := st.backend.(io.Closer); ok {
		if err := c.Close(); err != nil {
			return r.errorf("close", nil, "backend %s: %w", st.backendName, err)
		}
	}
	return nil
}

// configured returns the region's state, or the error of op on keys
// before Configure.
func (r *Region) configured(op string, keys []string) (*regionState, error) {
	if st := r.state.Load(); st != nil {
		return st, nil
	}
	return nil, r.fail(op, keys, ErrNotConfigured)
}

func (r *Region) mangle(key string) string {
	if r.s.mangler == nil {
		return key
	}
	return r.s.mangler(key)
}

func (r *Region) mangleAll(keys []string) []string {
	if r.s.mangler == nil {
		return keys
	}
	m := make([]string, len(keys))
	for i, k := range keys {
		m[i] = r.s.mangler(k)
	}
	return m
}

// now is the time creation times are taken from.
func (s *settings) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// nanotime is the time freshness is checked against: the coarse clock,
// or the clock given with WithClock.
func (s *settings) nanotime() int64 {
	if s.now != nil {
		return s.now().UnixNano()
	}
	return coarseNow()
}

// Invalidate retires every value the region holds now: hard makes them
// absent, soft makes them expired, so that they are served while one
// caller regenerates each (dogpile.cache's invalidate). Nothing is
// deleted; Config.Invalidator decides where the time is kept.
func (r *Region) Invalidate(ctx context.Context, hard bool) error {
	st, err := r.configured("invalidate", nil)
	if err != nil {
		return err
	}
	start := st.observeStart(ctx)
	err = st.inv.Invalidate(ctx, r.s.clock(), hard)
	if err != nil {
		err = r.fail("invalidate", nil, err)
	}
	st.observe(ctx, observe.OpInvalidate, nil, nil, start, -1, err)
	return err
}

// Set stores value under key, created now.
func (r *Region) Set(ctx context.Context, key string, value any) error {
	st, err := r.configured("set", []string{key})
	if err != nil {
		return err
	}
	start := st.observeStart(ctx)
	size, err := st.save(ctx, r.mangle(key), newEntry(value, r.s.clock()))
	err = st.writeError(ctx, observe.OpSet, []string{key}, err)
	st.observe1(ctx, observe.OpSet, key, observe.None, start, size, err)
	return err
}

// SetMulti stores every value, all with one creation time, in one backend
// call.
func (r *Region) SetMulti(ctx context.Context, values map[string]any) error {
	st, err := r.configured("set_multi", nil)
	if err != nil {
		return err
	}
	if len(values) == 0 {
		return nil
	}
	start := st.observeStart(ctx)
	now := r.s.clock()
	keys := make([]string, 0, len(values))
	es := make([]entry, 0, len(values))
	for k, v := range values {
		keys = append(keys, k)
		es = append(es, newEntry(v, now))
	}
	size, err := st.saveAll(ctx, r.mangleAll(keys), es)
	err = st.writeError(ctx, observe.OpSetMulti, keys, err)
	st.observe(ctx, observe.OpSetMulti, keys, nil, start, size, err)
	return err
}

// Delete removes key. Deleting a missing key is not an error.
func (r *Region) Delete(ctx context.Context, key string) error {
	st, err := r.configured("delete", []string{key})
	if err != nil {
		return err
	}
	start := st.observeStart(ctx)
	err = st.backend.Delete(ctx, r.mangle(key))
	err = st.writeError(ctx, observe.OpDelete, []string{key}, err)
	st.observe1(ctx, observe.OpDelete, key, observe.None, start, -1, err)
	return err
}

// DeleteMulti removes every key in one backend call.
func (r *Region) DeleteMulti(ctx context.Context, keys []string) error {
	st, err := r.configured("delete_multi", keys)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	start := st.observeStart(ctx)
	err = st.backend.DeleteMulti(ctx, r.mangleAll(keys))
	err = st.writeError(ctx, observe.OpDeleteMulti, keys, err)
	st.observe(ctx, observe.OpDeleteMulti, keys, nil, start, -1, err)
	return err
}

// KeyIsLocked reports whether a creation for key is under way, in this
// process or, with a distributed lock, in any. The key is mangled as
// every other key is (unlike dogpile.cache's key_is_locked).
func (r *Region) KeyIsLocked(ctx context.Context, key string) (bool, error) {
	st, err := r.configured("key_is_locked", []string{key})
	if err != nil {
		return false, err
	}
	k := r.mangle(key)
	if r.flights.Active(k) {
		return true, nil
	}
	if m := st.mutex(k); m != nil {
		locked, err := m.Locked(ctx)
		if err != nil {
			return false, r.fail("key_is_locked", []string{key}, fmt.Errorf("backend %s: %w", st.backendName, err))
		}
		return locked, nil
	}
	return false, nil
}

func joinErr(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%w; %w", a, b)
}
