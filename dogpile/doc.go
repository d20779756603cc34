// Package dogpile is a caching front end with stampede protection: a Go
// port of Python's dogpile.cache.
//
// # Regions
//
// A Region is a named front end to one cache backend with an expiration
// time. Declare regions at start-up, cache functions with them right away,
// and configure them once the configuration is known:
//
//	import _ "github.com/dogpilego/dogpile/dogpile/backends/memory"
//
//	var users = dogpile.NewRegion(dogpile.WithName("users"))
//
//	func main() {
//		err := users.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: 5 * time.Minute})
//		...
//		u, err := dogpile.GetOrCreate(ctx, users, "user:7", loadUser7)
//	}
//
// Configure takes a backend's registered name and a Config;
// ConfigureBackend takes a backend built by its package's typed
// constructor. Package pyconfig configures regions from the flat maps of
// dogpile.cache's configure_from_config ("cache.users.backend",
// "cache.users.expiration_time", ...), so that one configuration file
// serves Python and Go processes.
//
// # Reading and creating
//
// The generic functions are the API: Get, GetMulti, GetOrCreate and
// GetOrCreateMulti return values of the type asked for, and a value of
// another type is an error wrapping ErrTypeMismatch, never a silent zero
// value; any as the type takes values of every type. Region.Set, Delete
// and their multi forms write.
//
// # The dogpile lock
//
// GetOrCreate returns the cached value or calls the creator to make it.
// For one key, one caller creates; while it works, callers that found an
// expired value get that value at once, and callers that found nothing
// wait for the creator's result (WaitForFresh makes everyone wait).
// Callers of one process coalesce in memory before they touch a backend's
// distributed lock, so a stampede costs one creation per key and process,
// and one per key across processes when the backend has a distributed
// lock. With WithAsyncCreation, expired values are served to every caller
// while the creation runs in the background.
//
// The creator runs under context.WithoutCancel of the caller that started
// it (values kept, cancellation not), bounded by WithCreationTimeout. A
// caller whose context ends stops waiting at once; the creation goes on
// for the others. A creator's error is returned to every caller that
// waited on it and is not cached. A creator that panics makes the caller
// that started the creation panic, if it still waits, with an *Error
// holding the panic value and the creator's stack; the other callers get
// an error wrapping ErrCreatorPanicked. A creator that calls
// runtime.Goexit, as t.Fatal does, gives every caller an error wrapping
// ErrCreatorGoexit. Either way the key is released, and a background
// creation that fails is logged and reported, never taking the process
// down.
//
// # Values and types
//
// Backends are of two kinds (see package driver). Those that keep Go
// values, like the memory backend, neither copy nor decode on a hit: a
// fresh hit through GetOrCreate allocates nothing. Those that keep bytes,
// like Redis or Memcached, hold dogpile.cache's own format,
// {"ct": <creation time>, "v": 2}|<payload>, with the payload written by
// the region's Codec (JSON by default), so that Python processes using a
// JSON serializer share the entries. Entries that cannot be decoded are a
// miss, reported to the logger, and are overwritten by the next creation.
//
// # Options
//
// NewRegion takes Options; Cache0 … CacheMulti take FuncOptions; the
// read functions take CallOptions. Every CallOption is also a FuncOption
// and an Option, so one vocabulary serves every scope, and the narrowest
// scope wins: NewRegion(WaitForFresh()) applies to every call on the
// region. An option given a value it cannot take is an error wrapping
// ErrInvalidArgument, returned where it applies: by Configure for the
// region's options, by every call for a cached function's or a call's.
//
// # Expiry and invalidation
//
// Config.ExpirationTime zero means values never expire, as Python's None
// does. Per call, Expiration overrides it (NoExpiration: never) and
// ExpirationFunc decides from the value's creation time; Expiration(0) is
// an error, since 0 means "expire at once" to dogpile.cache. Every read
// path applies the same rules, including NoExpiration and the format
// version. Expiry is checked against a clock kept in memory with
// millisecond resolution, so values expire up to a millisecond late.
//
// Region.Invalidate retires every value the region holds: hard makes them
// absent, soft makes them expired, served while one caller regenerates
// each. Config.Invalidator decides where the time is kept: in this process
// by default, in the backend for every process with SharedInvalidation.
//
// # Function caching
//
// Cache0 to Cache3 and CacheMulti wrap functions the way dogpile.cache's
// cache_on_arguments and cache_multi_on_arguments decorate them, with keys
// "<package path>:<func name>|<namespace>|<args joined by spaces>" whose
// argument text is Python's (ToStr), so that a function named with
// FuncName shares its keys with a Python process.
//
// # Errors
//
// Every error the package returns is an *Error, naming the operation, the
// region and the keys, and wrapping the cause: a sentinel of this package,
// a backend's error or a creator's own, for errors.Is and errors.As.
//
// # Observation
//
// An observer set with WithObserver (package observe) is told about every
// operation: its keys, what happened to each (hit, stale, miss, created,
// waited, error), when it started, how long it took and its payload size.
// A region without an observer spends nothing on observation.
package dogpile
