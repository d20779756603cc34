package dogpile

import (
	"log/slog"
	"time"
)

// NoExpiration, given to Expiration, makes values never expire whatever the
// region's default (dogpile.cache's expiration_time=-1).
const NoExpiration time.Duration = -1

// Option configures a Region at NewRegion. A nil function given to an
// option means the default.
type Option func(*Region)

// WithName names the region (dogpile.cache's name). Observers and logs
// report it.
func WithName(name string) Option { return func(r *Region) { r.name = name } }

// WithKeyMangler sets the function applied to every key before it reaches
// the backend, for example SHA1MangleKey.
func WithKeyMangler(m func(string) string) Option { return func(r *Region) { r.mangler = m } }

// WithCodec sets the codec that byte-storing backends use for payloads
// (dogpile.cache's serializer and deserializer). The default is JSON.
func WithCodec(c Codec) Option {
	return func(r *Region) {
		if c != nil {
			r.codec = c
		}
	}
}

// WithFunctionKeyGenerator replaces FunctionKeyGenerator for the functions
// this region caches.
func WithFunctionKeyGenerator(g KeyGenerator) Option {
	return func(r *Region) {
		if g != nil {
			r.keyGen = g
		}
	}
}

// WithFunctionMultiKeyGenerator replaces FunctionMultiKeyGenerator for the
// multi functions this region caches.
func WithFunctionMultiKeyGenerator(g MultiKeyGenerator) Option {
	return func(r *Region) {
		if g != nil {
			r.multiKeyGen = g
		}
	}
}

// AsyncRunner runs a background regeneration (dogpile.cache's
// async_creation_runner). It must call task exactly once, on any goroutine;
// task stores the value and releases the key's locks itself, also when the
// creator fails or panics (the panic is then re-raised inside task).
type AsyncRunner func(key string, task func())

// GoRunner is the AsyncRunner that runs each task on a new goroutine.
func GoRunner(_ string, task func()) { go task() }

// WithAsyncRunner makes GetOrCreate serve an expired value at once, to the
// caller that regenerates it too, while runner regenerates it in the
// background. Without it the first caller regenerates in the foreground and
// the others are served the expired value, as in dogpile.cache.
func WithAsyncRunner(runner AsyncRunner) Option { return func(r *Region) { r.async = runner } }

// WithLogger sets the logger; the default is slog.Default(). Lock traffic
// is logged at Debug, undecodable entries and lost locks at Warn.
func WithLogger(l *slog.Logger) Option {
	return func(r *Region) {
		if l != nil {
			r.logger = l
		}
	}
}

// WithObserver sets an observer told about every operation. A region
// without one spends nothing on observation.
func WithObserver(o Observer) Option { return func(r *Region) { r.observer = o } }

// WithClock replaces time.Now for expiry and creation times, for tests.
func WithClock(now func() time.Time) Option {
	return func(r *Region) {
		if now != nil {
			r.now, r.customClock = now, true
		}
	}
}

// WithFailOpen makes a failing backend behave as a miss: reads that fail
// call the creator, writes that fail still return the created value, and
// the error goes to the logger and the observer instead of the caller.
func WithFailOpen() Option { return func(r *Region) { r.failOpen = true } }

// WithCreationTimeout bounds every creation (the creator and the wait for a
// distributed lock). Creators run detached from the caller's cancellation,
// so without a bound a stuck creator holds its key until it returns.
func WithCreationTimeout(d time.Duration) Option {
	return func(r *Region) { r.creationTimeout = max(d, 0) }
}

// WithoutStale makes every GetOrCreate on the region wait for a fresh value
// instead of being served an expired one while another caller regenerates
// it (dogpile.cache issue #264). WaitForFresh does the same per call.
func WithoutStale() Option { return func(r *Region) { r.noStale = true } }

// CallOption adjusts one call of Get, GetOrCreate and their multi forms.
type CallOption func(*callConfig)

type callConfig struct {
	expiration     time.Duration // 0: region default; <0: never
	expirationFunc func(Metadata) time.Duration
	shouldCache    func(any) bool
	ignoreExpiry   bool
	waitForFresh   bool
}

// Expiration overrides the region's expiration time for this call. A
// duration ≤ 0, such as NoExpiration, means the value never expires.
func Expiration(d time.Duration) CallOption {
	return func(c *callConfig) {
		if d <= 0 {
			d = NoExpiration
		}
		c.expiration = d
	}
}

// ExpirationFunc decides the expiration time for this call from the
// metadata of the value found; its result follows Expiration's rules.
func ExpirationFunc(f func(Metadata) time.Duration) CallOption {
	return func(c *callConfig) { c.expirationFunc = f }
}

// ShouldCache stores a created value only when f returns true for it
// (dogpile.cache's should_cache_fn); the value is returned either way.
func ShouldCache(f func(any) bool) CallOption {
	return func(c *callConfig) { c.shouldCache = f }
}

// IgnoreExpiration returns whatever value is stored, expired, invalidated
// or not (Get, GetMulti and GetValueMetadata).
func IgnoreExpiration() CallOption { return func(c *callConfig) { c.ignoreExpiry = true } }

// WaitForFresh makes this GetOrCreate wait for a fresh value instead of
// being served an expired one while another caller regenerates it.
func WaitForFresh() CallOption { return func(c *callConfig) { c.waitForFresh = true } }
