package dogpile

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

// NoExpiration, given to Expiration, makes values never expire whatever the
// region's expiration time (dogpile.cache's expiration_time=-1).
const NoExpiration time.Duration = -1

// Option configures a Region at NewRegion. An option given a value it
// cannot take (a nil codec, a negative timeout) makes Configure fail with
// an error that names it, and the region stays unconfigured. Options whose
// default is "none" (WithKeyMangler, WithObserver) take nil for none; the
// others reject nil.
//
// Every CallOption is an Option too: given to NewRegion, it applies to
// every call on the region, unless a cached function's or a call's own
// options say otherwise. NewRegion(WaitForFresh()) makes every caller wait
// for a fresh value (dogpile.cache issue #264).
type Option interface {
	applyRegion(*settings)
}

// settings are a region's options, fixed at NewRegion.
type settings struct {
	name            string
	mangler         func(string) string
	codec           Codec
	keyGen          KeyGenerator
	multiKeyGen     MultiKeyGenerator
	async           bool
	logger          *slog.Logger
	observer        observe.Observer
	now             func() time.Time // nil: the system clock, coarse for expiry
	failOpen        bool
	creationTimeout time.Duration
	defaults        callConfig // the CallOptions given to NewRegion
	err             error      // what the options could not take

	tooLargeMu sync.Mutex
	tooLarge   map[string]struct{} // keys logged as too large for the backend
}

func (s *settings) invalid(option string, format string, args ...any) {
	s.err = errors.Join(s.err, fmt.Errorf("%w: %s: %s", ErrInvalidArgument, option, fmt.Sprintf(format, args...)))
}

type regionOption func(*settings)

func (o regionOption) applyRegion(s *settings) { o(s) }

// WithName names the region (dogpile.cache's name). Errors, logs and
// observers report it.
func WithName(name string) Option { return regionOption(func(s *settings) { s.name = name }) }

// WithKeyMangler sets the function applied to every key before it reaches
// the backend, such as pyconfig.SHA1MangleKey; nil for none, the default.
func WithKeyMangler(m func(string) string) Option {
	return regionOption(func(s *settings) { s.mangler = m })
}

// WithCodec sets the codec that byte-storing backends use for payloads
// (dogpile.cache's serializer and deserializer). The default is JSON.
func WithCodec(c Codec) Option {
	return regionOption(func(s *settings) {
		if c == nil {
			s.invalid("WithCodec", "nil codec")
			return
		}
		s.codec = c
	})
}

// WithKeyGenerator replaces the default key generator of the functions
// cached in this region with Cache0 … Cache3 (dogpile.cache's
// function_key_generator).
func WithKeyGenerator(g KeyGenerator) Option {
	return regionOption(func(s *settings) {
		if g == nil {
			s.invalid("WithKeyGenerator", "nil key generator")
			return
		}
		s.keyGen = g
	})
}

// WithMultiKeyGenerator replaces the default key generator of the
// functions cached in this region with CacheMulti (dogpile.cache's
// function_multi_key_generator).
func WithMultiKeyGenerator(g MultiKeyGenerator) Option {
	return regionOption(func(s *settings) {
		if g == nil {
			s.invalid("WithMultiKeyGenerator", "nil key generator")
			return
		}
		s.multiKeyGen = g
	})
}

// WithAsyncCreation makes GetOrCreate serve an expired value at once, to
// the caller that regenerates it too, while a goroutine regenerates it in
// the background (dogpile.cache's async_creation_runner). Without it the
// first caller regenerates in the foreground and the others are served
// the expired value, as in dogpile.cache. Keys without a value, and multi
// calls, are created in the foreground either way. A background creator
// that fails, panics or calls runtime.Goexit is logged and reported to
// the observer; the previous value is served until a creation succeeds.
func WithAsyncCreation() Option { return regionOption(func(s *settings) { s.async = true }) }

// WithLogger sets the logger; the default is slog.Default(). Undecodable
// entries, lost locks, failures absorbed by WithFailOpen and background
// creations that fail are logged at Warn or Error.
func WithLogger(l *slog.Logger) Option {
	return regionOption(func(s *settings) {
		if l == nil {
			s.invalid("WithLogger", "nil logger")
			return
		}
		s.logger = l
	})
}

// WithObserver sets an observer told about every operation; nil for
// none, the default. A region without one spends nothing on observation.
func WithObserver(o observe.Observer) Option {
	return regionOption(func(s *settings) { s.observer = o })
}

// WithClock replaces time.Now for expiry and creation times, for tests.
func WithClock(now func() time.Time) Option {
	return regionOption(func(s *settings) {
		if now == nil {
			s.invalid("WithClock", "nil clock")
			return
		}
		s.now = now
	})
}

// WithFailOpen makes a failing backend behave as a miss: reads that fail
// call the creator, writes that fail still return the created value, and
// the error goes to the logger and the observer instead of the caller.
//
// A backend that stops answering costs a call what its own timeouts
// allow (its documented budget, about one socket timeout), and a caller
// whose context has a deadline gives the backend at most half of the time
// it has left: a read that takes longer counts as failed. The creation
// that follows a failed read asks the backend neither for its lock, nor
// again, nor to store the value; and after a read that succeeded, a write
// that takes more than half of the time the caller had left when it
// started goes on without it, the created value handed to the callers at
// once. So a stalled backend costs a call one backend timeout, and a
// caller whose creator finishes before its deadline gets the value.
func WithFailOpen() Option { return regionOption(func(s *settings) { s.failOpen = true }) }

// WithCreationTimeout bounds every creation: the wait for a distributed
// lock and the creator, which runs detached from its caller's
// cancellation, so that a stuck creator does not hold its key for ever.
// Zero, the default, sets no bound; a negative duration is an error.
func WithCreationTimeout(d time.Duration) Option {
	return regionOption(func(s *settings) {
		if d < 0 {
			s.invalid("WithCreationTimeout", "negative duration %v", d)
			return
		}
		s.creationTimeout = d
	})
}

// CallOption adjusts calls of Get, GetOrCreate, their multi forms and the
// cached functions. Given to one of those calls it applies to that call;
// given to Cache0 … CacheMulti, to every call of the cached function; given
// to NewRegion, to every call on the region. The narrower scope wins. A
// CallOption given a value it cannot take makes the calls it applies to
// fail with an error wrapping ErrInvalidArgument.
type CallOption func(*callConfig)

func (o CallOption) applyRegion(s *settings) {
	if o != nil {
		o(&s.defaults)
	}
}

func (o CallOption) applyFunc(c *funcConfig) {
	if o != nil {
		o(&c.call)
	}
}

// callConfig is what a call's options decided.
type callConfig struct {
	expiration     time.Duration // 0: the region's; NoExpiration: never
	expirationFunc func(created time.Time) time.Duration
	shouldCache    func(any) bool
	staleIf        func(value any, created time.Time) bool
	ignoreExpiry   bool
	waitForFresh   bool
	err            error
}

func (c *callConfig) invalid(option string, format string, args ...any) {
	c.err = errors.Join(c.err, fmt.Errorf("%w: %s: %s", ErrInvalidArgument, option, fmt.Sprintf(format, args...)))
}

// Expiration overrides the region's expiration time: d must be positive,
// or NoExpiration for values that never expire. Zero and other negative
// durations are errors, so that no duration means the opposite of what it
// means to dogpile.cache, where 0 expires every value at once.
func Expiration(d time.Duration) CallOption {
	return func(c *callConfig) {
		if d <= 0 && d != NoExpiration {
			c.invalid("Expiration", "%v: want a positive duration or NoExpiration", d)
			return
		}
		c.expiration, c.expirationFunc = d, nil
	}
}

// ExpirationFunc decides the expiration time of each value when it is
// read, from its creation time, so it can follow the time of day or a
// setting changed at run time (dogpile.cache's callable expiration_time).
// f returns a positive duration, NoExpiration (or any negative duration)
// for never, or zero for the region's expiration time; it must be fast
// and safe for concurrent use. It takes precedence over Expiration; nil
// removes an ExpirationFunc given at a wider scope.
func ExpirationFunc(f func(created time.Time) time.Duration) CallOption {
	return func(c *callConfig) { c.expirationFunc = f }
}

// ShouldCache stores a created value only when f returns true for it
// (dogpile.cache's should_cache_fn); the value is returned either way.
// nil stores every value, the default.
func ShouldCache(f func(value any) bool) CallOption {
	return func(c *callConfig) { c.shouldCache = f }
}

// IgnoreExpiration makes a call take whatever value is stored, expired,
// invalidated or not: Get returns it, and GetOrCreate creates only when
// nothing is stored.
func IgnoreExpiration() CallOption { return func(c *callConfig) { c.ignoreExpiry = true } }

// StaleIf decides, for a value that is otherwise fresh, whether it is
// stale all the same: a value retired by something only the caller knows,
// such as a dependency tag invalidated since the value was created. A
// value it reports stale is regenerated under the dogpile lock like an
// expired one: one caller creates while the others are served it (or
// wait, with WaitForFresh). f gets the value decoded as the call's type,
// and its creation time; it runs on every hit of GetOrCreate and
// GetOrCreateMulti (Get and GetMulti report such a value missing) and
// must be fast and safe for concurrent use. nil removes a StaleIf given
// at a wider scope.
func StaleIf(f func(value any, created time.Time) bool) CallOption {
	return func(c *callConfig) { c.staleIf = f }
}

// WaitForFresh makes GetOrCreate wait for a fresh value instead of being
// served an expired one while another caller regenerates it.
func WaitForFresh() CallOption { return func(c *callConfig) { c.waitForFresh = true } }
