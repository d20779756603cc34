// Package dogpile is a caching front end with stampede protection: a Go port
// of Python's dogpile.cache.
//
// # Regions
//
// A Region is a named front end to one cache backend with an expiration
// time. Declare regions at start-up, cache functions with them right away,
// and configure them once the configuration is known:
//
//	var users = dogpile.NewRegion(dogpile.WithName("users"))
//
//	func main() {
//		err := users.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: 5 * time.Minute})
//		...
//		u, err := dogpile.GetOrCreate(ctx, users, "user:7", loadUser7)
//	}
//
// Configure takes a backend name and a Config; ConfigureFromConfig takes a
// flat map with dogpile.cache's key names ("cache.users.backend",
// "cache.users.expiration_time", "cache.users.arguments.url", ...), so one
// configuration file can serve Python and Go processes.
//
// # The dogpile lock
//
// GetOrCreate returns the cached value or calls the creator to make it. For
// one key, one caller creates; while it works, callers that found an
// expired value get that value at once, and callers that found nothing wait
// for the creator's result (WaitForFresh and WithoutStale make everyone
// wait). Callers of one process coalesce in memory before they touch a
// backend's distributed lock, so a stampede costs one creation per key and
// process, and one per key across processes when the backend has a
// distributed lock. With WithAsyncRunner, expired values are served to
// every caller while the creation runs in the background.
//
// The creator runs under context.WithoutCancel of the caller that started
// it (values kept, cancellation not), bounded by WithCreationTimeout. A
// caller whose context ends stops waiting at once; the creation goes on for
// the others. A creator's error is returned to every caller that waited on
// it and is not cached. A creator's panic is re-raised in the caller that
// started the creation; the others get ErrCreatorPanicked; the key is
// released either way.
//
// # Values and types
//
// Backends are of two kinds. A ValueBackend, like the memory backend, keeps
// Go values as they are: a hit neither copies nor decodes. A BytesBackend,
// like Redis or Memcached, keeps bytes in dogpile.cache's own format,
// {"ct": <creation time>, "v": 2}|<payload>, with the payload written by
// the region's Codec (JSON by default), so Python processes that use a JSON
// serializer share the entries. Entries that cannot be decoded are a miss,
// reported to the logger, and are overwritten by the next creation.
//
// The generic functions GetOrCreate, GetOrCreateMulti and friends return
// typed values; a value of another type is an error wrapping
// ErrTypeMismatch, never a silent zero value. A fresh hit through the typed
// GetOrCreate on the memory backend does not allocate.
//
// # Expiry and invalidation
//
// Config.ExpirationTime zero means values never expire. Per call,
// Expiration overrides it (NoExpiration: never) and ExpirationFunc decides
// from the value's metadata. Every read path applies the same rules,
// including NoExpiration and the format version. Expiry is checked against
// a clock kept in memory with millisecond resolution, so values expire up
// to a millisecond late.
//
// Region.Invalidate retires every value the region holds: hard makes them
// absent, soft makes them expired, served while one caller regenerates
// each. The InvalidationStrategy decides what "every value" means;
// LocalInvalidation, the default, keeps the time in this process.
//
// # Backends
//
// Backends are registered by name, like database/sql drivers:
// "dogpile.cache.memory", "dogpile.cache.memory_pickle" and
// "dogpile.cache.null" are built in; importing a backend package registers
// its names. Backend arguments use dogpile.cache's names; arguments that
// mean something only to Python are accepted and logged once, and unknown
// ones are an error. Proxies (Config.Wrap) change a backend's behaviour
// without subclassing it. Package dogpiletest is the conformance suite that
// every backend passes.
//
// # Function caching
//
// Cache0 to Cache3 and CacheMulti wrap functions the way dogpile.cache's
// cache_on_arguments and cache_multi_on_arguments decorate them, with keys
// "<package path>:<func name>|<namespace>|<args joined by spaces>".
//
// # Observation
//
// An Observer set with WithObserver is told about every operation: its
// keys, what happened to each (hit, stale, miss, created, waited, error),
// its duration and payload size. A region without an observer spends
// nothing on it.
package dogpile
