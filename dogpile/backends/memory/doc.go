// Package memory holds the in-process backends of dogpile regions, bounded
// caches on github.com/maypok86/otter/v2: dogpile.cache.memory (Backend),
// which keeps Go values as they are, and dogpile.cache.memory_pickle
// (BytesBackend), which keeps them as bytes in the wire format, encoded by
// the region's codec. Importing the package registers both names.
//
// From Go, give New (or NewBytes) the bounds, then give the backend to a
// region:
//
//	b, err := memory.New(memory.Options{MaxEntries: 50_000, MaxBytes: 64 << 20})
//	...
//	err = region.ConfigureBackend(b, dogpile.Config{ExpirationTime: 10 * time.Minute})
//
// or configure a region by name, from code or from a configuration file:
//
//	err := region.Configure("dogpile.cache.memory", dogpile.Config{
//		ExpirationTime: 10 * time.Minute,
//		Arguments:      map[string]any{"max_size": 50000, "max_bytes": "64MiB"},
//	})
//
// # Bounds
//
// Unlike dogpile.cache's dict, the cache never grows without limit: it
// holds at most Options.MaxEntries entries (max_size) and at most
// Options.MaxBytes bytes (max_bytes), counted as the sum of the entries'
// costs. When a write takes it over a bound, the cache drops the entries
// least likely to be read again (otter's W-TinyLFU: recency and frequency),
// so a hot set survives a scan of keys read once.
//
// An entry costs the length of its key plus the cost of its value: the
// length of a string or a byte slice, and otherwise EstimateCost's
// estimate of the memory the value holds, or what Options.Cost returns. A
// BytesBackend entry costs the length of its key and bytes. An entry that
// costs more than MaxBytes on its own is not stored: the write returns an
// error wrapping driver.ErrValueTooLarge, and the region serves the value
// uncached.
//
// otter bounds a cache by one weight only, so both bounds are one: an entry
// weighs the larger of its cost's share of MaxBytes and one MaxEntries-th
// of the cache. The weights add up to the whole cache at most, so the
// entries number at most MaxEntries and cost at most MaxBytes, and
// MaxEntries entries of MaxBytes/MaxEntries bytes or less fit. The rule is
// stricter than the two bounds apart when small and large entries mix: an
// entry smaller than MaxBytes/MaxEntries takes that much of MaxBytes. The
// bounds hold once the cache's pending work is done; writes may pass them
// for a moment.
//
// The newest entries first wait in an admission window of 1% of the cache.
// An entry that weighs more than the window (one over 1% of MaxBytes, and
// every entry with fewer than 100 MaxEntries) is compared at once with the
// entry it would replace, by how often each was used: into a full cache,
// keys written once may then not be admitted at all.
//
// The defaults, DefaultMaxEntries (100,000) and DefaultMaxBytes
// (256 MiB), bound a cache set up without bounds. 256 MiB is a quarter of
// a small 1 GiB container, the most a cache should take of a process by
// default; 100,000 entries hold, for example, a page fragment per user of
// a site's active users, and bound what small values cost beyond their
// bytes: the cache's bookkeeping takes about 150 bytes per entry beside
// the bytes of its key and value, 15 MB for 100,000. Give bounds that fit
// the process.
//
// # Time to live
//
// The region decides whether a value is fresh; the backend also drops
// entries after a time to live, so that entries nobody reads again leave
// by themselves (the rule of the server-side TTL of the Redis and
// Memcached backends):
//
//   - Options.TTL, or memory_expiration_time in seconds, when given.
//     NoTTL, memory_expiration_time 0 or "none", sets none.
//   - Otherwise (TTL zero, the argument absent or None) DefaultTTLFactor
//     (2) times the region's expiration time: an expired value stays
//     readable for as long again, so that callers are served it while one
//     of them regenerates it. A region without an expiration time sets
//     none. Values stored with a longer per-call expiration than the
//     region's, or with dogpile.NoExpiration, may then leave early (a miss,
//     and a new creation): give such regions a fixed TTL.
//
// Expired entries are removed on reads and writes and, for an idle cache,
// by a clean-up every second. The time to live is measured to within a
// millisecond.
//
// # Evictions
//
// Both backends are driver.Evicters: a region configured with one reports
// to its observer every entry dropped for the bounds (observe.OpEvict) or
// for its time to live (observe.OpExpire), with the key as stored (after
// the key mangler). Deletes and overwrites are not evictions.
//
// # Values
//
// Backend stores CachedValues as they are: a hit neither copies nor
// decodes, and callers share the stored value, which they must not
// modify. A CachedValue comes back as it was given, but for the creation
// time of one of the region's version whose payload is a string, a byte
// slice, a boolean or a number (with no Options.Cost), kept in 8 bytes: it
// comes back as the same instant (time.Time.Equal), in the local time zone
// and without a monotonic clock reading. BytesBackend stores copies of the bytes it is given.
//
// # Arguments
//
// The registered names take these arguments; an argument nobody knows, or
// a value out of range, is an error wrapping driver.ErrInvalidArgument
// that names it.
//
//	argument                default             meaning
//	max_size                100000              Options.MaxEntries: a positive number of entries
//	max_bytes               268435456 (256MiB)  Options.MaxBytes: a positive number of bytes, or a
//	                                            string with a unit: "64MiB", "1GB" (KB, MB, GB, TB
//	                                            in powers of 1000; KiB, MiB, GiB, TiB of 1024; B)
//	memory_expiration_time  derived             Options.TTL: seconds (a number, a numeric string, a
//	                                            Go duration string or a time.Duration); 0 or "none"
//	                                            for none; absent or None: DefaultTTLFactor times the
//	                                            region's expiration time
//
// dogpile.cache's cache_dict, the dict a Python memory backend keeps its
// entries in, is refused with an error: the entries live in a bounded
// cache of the backend's own, which no map given to it could stand for,
// and a map copied in would silently stop being the cache's storage. A
// cache_dict of None, dogpile.cache's default, is accepted. To look at the
// entries, use Backend.All (BytesBackend.All).
package memory
