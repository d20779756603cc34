package dogpiletest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Options describes the backend under test.
type Options struct {
	// New returns a fresh backend; it need not be empty, as other tests may
	// share its server. TestBackend calls it once to check the backend's
	// kind, then once per subtest. Release resources with t.Cleanup: the
	// suite never closes the backend itself.
	New func(t *testing.T) driver.Backend

	// KeyMangler, when set, is given to every region the suite builds
	// (dogpile.WithKeyMangler) and applied by the suite wherever it
	// reaches the backend with a region's key: the backend's Mutex and the
	// clean-up of the keys a subtest wrote.
	KeyMangler func(string) string

	// RegionOptions are added to those of every region the suite builds,
	// after its own, for example dogpile.WithCodec or dogpile.WithLogger.
	// They must not set a key mangler (use KeyMangler), a clock, or options
	// that change what the lock serves (dogpile.WaitForFresh,
	// dogpile.WithAsyncCreation): the suite relies on its own.
	RegionOptions []dogpile.Option

	// Evicts reports that the backend may drop an entry on its own before
	// the region considers it expired: a server-side TTL set through the
	// backend's arguments, or a bound on its size. Checks that read a value
	// after the region considers it expired (IgnoreExpiration reads, stale
	// values served during a regeneration) then accept a miss or are
	// skipped. Every other test still expects a value written a moment ago
	// to be there.
	Evicts bool
}

// waitLimit bounds every blocking step of the suite, so that a backend
// that deadlocks fails with a message instead of hanging until the test
// binary's timeout.
const waitLimit = 30 * time.Second

// expiration is the region expiration of the tests that use a fake clock:
// long enough that a server-side TTL derived from it never fires in real
// time during a run.
const expiration = time.Hour

// TestBackend runs the conformance suite against the backends opts.New
// returns, as subtests of t. A backend that implements neither
// driver.ValueBackend nor driver.BytesBackend fails at once.
func TestBackend(t *testing.T, opts Options) {
	t.Helper()
	if opts.New == nil {
		t.Fatal("dogpiletest: Options.New is nil")
	}
	b := opts.New(t)
	if b == nil {
		t.Fatal("dogpiletest: Options.New returned a nil backend")
	}
	k, err := kindOf(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dogpiletest: %T is a %s", b, k)

	t.Run("Raw", func(t *testing.T) {
		for _, tc := range rawTests {
			if tc.kind != anyKind && tc.kind != k {
				continue
			}
			t.Run(tc.name, func(t *testing.T) { tc.run(newEnv(t, opts)) })
		}
	})
	t.Run("Region", func(t *testing.T) {
		for _, tc := range regionTests {
			t.Run(tc.name, func(t *testing.T) { tc.run(newEnv(t, opts)) })
		}
	})
	t.Run("Concurrency", func(t *testing.T) {
		for _, tc := range concurrencyTests {
			t.Run(tc.name, func(t *testing.T) { tc.run(newEnv(t, opts)) })
		}
	})
	t.Run("Lock", func(t *testing.T) {
		l := lockerOf(b)
		if l == nil {
			t.Skipf("%T does not implement driver.Locker: regions use their in-process lock", b)
		}
		if l.Mutex("dogpiletest:probe:"+processNonce) == nil {
			t.Skipf("%T.Mutex returns nil: regions use their in-process lock", b)
		}
		for _, tc := range lockTests {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, opts)
				if e.locker == nil || e.locker.Mutex(e.backendKey(e.key("probe"))) == nil {
					t.Fatalf("%T has no lock of its own, unlike the first backend Options.New returned", e.b)
				}
				tc.run(e)
			})
		}
	})
}

type test struct {
	name string
	kind kind // anyKind, or the only kind the test applies to
	run  func(e *env)
}

type kind uint8

const (
	anyKind kind = iota
	valueKind
	bytesKind
)

func (k kind) String() string {
	switch k {
	case valueKind:
		return "driver.ValueBackend"
	case bytesKind:
		return "driver.BytesBackend"
	}
	return "backend of any kind"
}

// kindOf decides the kind of b the way a region does: the innermost
// backend's kind, which the outermost must forward.
func kindOf(b driver.Backend) (kind, error) {
	inner := driver.Unwrap(b)
	_, innerBytes := inner.(driver.BytesBackend)
	_, innerValues := inner.(driver.ValueBackend)
	_, outerBytes := b.(driver.BytesBackend)
	_, outerValues := b.(driver.ValueBackend)
	switch {
	case innerBytes && outerBytes:
		return bytesKind, nil
	case innerValues && outerValues:
		return valueKind, nil
	}
	return 0, fmt.Errorf("dogpiletest: %T implements neither driver.ValueBackend nor driver.BytesBackend", b)
}

// lockerOf returns b's dogpile lock as a region uses it, or nil. A proxy
// may add a lock or forward its backend's; a Locker whose Mutex returns nil
// (a proxy of a backend without one) leaves regions their in-process lock.
func lockerOf(b driver.Backend) driver.Locker {
	l, _ := b.(driver.Locker)
	return l
}

// nonces makes the key prefixes of this process unique among the
// processes sharing a server, and among the runs of one test (-count).
var (
	processNonce = strconv.FormatUint(rand.Uint64(), 36)
	envCounter   atomic.Uint64
)

// env is one subtest's backend, keys and context.
type env struct {
	t      *testing.T
	opts   Options
	ctx    context.Context
	b      driver.Backend
	kind   kind
	values driver.ValueBackend // set for valueKind
	bytes  driver.BytesBackend // set for bytesKind
	locker driver.Locker       // nil without a lock of its own
	prefix string

	mu      sync.Mutex
	written map[string]bool // backend keys to delete at the end
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	b := opts.New(t)
	if b == nil {
		t.Fatal("dogpiletest: Options.New returned a nil backend")
	}
	k, err := kindOf(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	t.Cleanup(cancel)
	e := &env{
		t: t, opts: opts, ctx: ctx, b: b, kind: k, locker: lockerOf(b),
		prefix:  "dogpiletest:" + sanitize(t.Name()) + ":" + processNonce + "." + strconv.FormatUint(envCounter.Add(1), 36) + ":",
		written: map[string]bool{},
	}
	switch k {
	case valueKind:
		e.values = b.(driver.ValueBackend)
	case bytesKind:
		e.bytes = b.(driver.BytesBackend)
	}
	// Registered after New's clean-ups, so it runs before them: the backend
	// is still open.
	t.Cleanup(e.cleanup)
	return e
}

// sanitize keeps test names readable in keys without characters that
// text protocols dislike.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '/', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}

// key returns a key unique to this subtest, as a region's caller gives it.
func (e *env) key(name string) string {
	k := e.prefix + name
	e.track(e.backendKey(k))
	return k
}

// rawKey returns a key unique to this subtest, for the backend's methods.
func (e *env) rawKey(name string) string {
	k := e.prefix + name
	e.track(k)
	return k
}

func (e *env) track(backendKey string) {
	e.mu.Lock()
	e.written[backendKey] = true
	e.mu.Unlock()
}

// keys is key for several names.
func (e *env) keys(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = e.key(n)
	}
	return out
}

// backendKey is what a region sends the backend for key.
func (e *env) backendKey(key string) string {
	if e.opts.KeyMangler != nil {
		return e.opts.KeyMangler(key)
	}
	return key
}

func (e *env) cleanup() {
	e.mu.Lock()
	keys := make([]string, 0, len(e.written))
	for k := range e.written {
		keys = append(keys, k)
	}
	e.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := e.b.DeleteMulti(ctx, keys); err != nil {
		e.t.Errorf("clean-up: DeleteMulti of the %d keys the test wrote: %v", len(keys), err)
	}
}

// region returns a region on the subtest's backend.
func (e *env) region(cfg dogpile.Config, opts ...dogpile.Option) *dogpile.Region {
	e.t.Helper()
	return e.regionOn(e.b, cfg, opts...)
}

// regionOn returns a region on b, which is the subtest's backend or a
// wrapper of it.
func (e *env) regionOn(b driver.Backend, cfg dogpile.Config, opts ...dogpile.Option) *dogpile.Region {
	e.t.Helper()
	all := []dogpile.Option{dogpile.WithName(e.t.Name())}
	if e.opts.KeyMangler != nil {
		all = append(all, dogpile.WithKeyMangler(e.opts.KeyMangler))
	}
	all = append(all, opts...)
	all = append(all, e.opts.RegionOptions...)
	r := dogpile.NewRegion(all...)
	if err := r.ConfigureBackend(b, cfg); err != nil {
		e.t.Fatalf("ConfigureBackend(%T): %v", b, err)
	}
	return r
}

// clock is a fake clock for dogpile.WithClock.
type clock struct{ ns atomic.Int64 }

// newClock starts at the current second: whole seconds survive the wire
// format's microsecond precision exactly.
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().Truncate(time.Second).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fakeClockRegion returns a region expiring values after an hour on a
// fake clock, and the clock.
func (e *env) fakeClockRegion() (*dogpile.Region, *clock) {
	e.t.Helper()
	c := newClock()
	return e.region(dogpile.Config{ExpirationTime: expiration}, dogpile.WithClock(c.Now)), c
}

// newValue returns payload stamped with creation time t.
func newValue(payload any, t time.Time) driver.CachedValue {
	return driver.CachedValue{Payload: payload, Metadata: driver.Metadata{CreatedAt: t, Version: driver.ValueVersion}}
}

// errNotCached is what the creator of a read that must hit returns.
var errNotCached = fmt.Errorf("dogpiletest: the creator was called: the value was not found in the cache")

// read returns the value stored under key as a T through the typed API,
// without creating: a miss is errNotCached.
func read[T any](e *env, r *dogpile.Region, key string) (T, error) {
	return dogpile.GetOrCreate(e.ctx, r, key, func(context.Context) (T, error) {
		var zero T
		return zero, errNotCached
	})
}

// wait receives from ch, failing the test after waitLimit.
func wait[T any](e *env, ch <-chan T, what string) T {
	e.t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		e.t.Fatalf("timed out after %v waiting for %s", waitLimit, what)
		panic("unreachable")
	}
}

// result is the outcome of a call made on another goroutine.
type result struct {
	v   any
	err error
}

// show renders a key for messages: without the subtest's prefix, and
// shortened when long.
func (e *env) show(key string) string {
	s := strings.TrimPrefix(key, e.prefix)
	if len(s) > 60 {
		return fmt.Sprintf("%q...%q (%d bytes)", s[:24], s[len(s)-12:], len(key))
	}
	return strconv.Quote(s)
}

// showKeys is show for several keys.
func (e *env) showKeys(keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = e.show(k)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
